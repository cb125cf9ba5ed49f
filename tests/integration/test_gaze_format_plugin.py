"""A new eye-tracking format is one module: a toy format from a temporary package goes
through `gazelm gaze read` (+ `--out`), `gazelm gaze fit-priors` and a training run with
a gaze provider on the priors fitted from it, through the real CLIs and configs (in-process)."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from gazelm.gaze.fixations import COLUMNS
from gazelm.training import train
from tests.helpers.cli import gazelm
from tests.helpers.compose import train_config
from tests.helpers.plugins import UserPackage, user_package

TOY_FORMAT = '''
    """Toy gaze logs: one fixation a line, `participant stimulus line col duration_ms token`."""
    from pathlib import Path

    import pandas as pd

    from gazelm.gaze.fixations import open_text
    from gazelm.gaze.formats import FixationFormat, register_format


    @register_format("toy")
    class Toy(FixationFormat):
        pattern = "*.toy"
        trial_keys = ("participant", "stimulus")
        alignment = "linecol"
        language = "java"

        def __init__(self, code_dir: str):
            self.code_dir = Path(code_dir)

        def code(self, stimulus):
            path = self.code_dir / f"{stimulus}.java"
            return open_text(path) if path.is_file() else None

        def read(self, path, log):
            rows, order = [], {}
            for lineno, text in enumerate(open_text(path).split("\\n"), start=1):
                if not text.strip():
                    continue
                log.seen()
                parts = text.split()
                if len(parts) != 6 or not all(p.isdigit() for p in parts[2:5]):
                    log.reject("expected: participant stimulus line col duration token", row=lineno,
                               field=None, reason="malformed line")
                    continue
                who, stimulus, line, col, ms, token = parts
                order[who, stimulus] = order.get((who, stimulus), 0) + 1
                rows.append({"participant": who, "stimulus": stimulus, "trial": "1",
                             "order": order[who, stimulus], "duration_ms": float(ms), "line": int(line),
                             "col": int(col), "token": token, "source_file": str(path), "source_row": lineno})
            return pd.DataFrame(rows)
'''
CODE = "int f(int a) {\n    int b = g(a);\n    return b;\n}\n"
# P1 reads f, a, b, return; P2 reads f, g (line, col of each token in CODE)
LOG = ("P1 S 1 5 100 f\nP1 S 1 11 50 a\nP1 S 2 9 200 b\nP1 S 3 5 150 return\n"
       "P2 S 1 5 300 f\nP2 S 2 13 100 g\nP2 S nine 1 1 x\n")


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("toy")
    (root / "code").mkdir()
    (root / "code" / "S.java").write_text(CODE)
    (root / "logs").mkdir()
    (root / "logs" / "study.toy").write_text(LOG)
    return {"root": root, "code": root / "code", "logs": root / "logs"}


@pytest.fixture
def package(toy: dict[str, Path]) -> UserPackage:
    return user_package(toy["root"] / "pkg", {"gz_toy_format.py": TOY_FORMAT})


def _toy_args(toy: dict[str, Path]) -> list[str]:
    return ["--format", "toy", "--plugin", "gz_toy_format", "-o", f"code_dir={toy['code']}"]


def test_toy_format_reads_through_the_cli_and_writes_the_table(toy, package, capsys):
    out = toy["root"] / "fixations.csv"
    with package.imported():
        r = gazelm(capsys, "gaze", "read", str(toy["logs"]), *_toy_args(toy), "--on-error", "drop", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "malformed line" in r.stdout and f"6 fixations → {out}" in r.stdout
    table = pd.read_csv(out)
    assert tuple(table.columns[:len(COLUMNS)]) == COLUMNS
    assert table["token"].tolist() == ["f", "a", "b", "return", "f", "g"]
    assert table["order"].tolist() == [1, 2, 3, 4, 1, 2] and table["source_row"].tolist() == [1, 2, 3, 4, 5, 6]
    with package.imported():
        r = gazelm(capsys, "gaze", "read", str(toy["logs"]), *_toy_args(toy))  # raise: the bad line is named
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert f"{toy['logs'] / 'study.toy'}, row 7: expected: participant" in r.stderr
    r = gazelm(capsys, "gaze", "read", str(toy["logs"]), "--format", "toy")  # without the plugin: not known
    assert r.returncode == 2 and "unknown fixation format 'toy'; known: codeactr, eyelink" in r.stderr


def test_toy_format_priors_by_hand_then_training_with_them(toy, package, shared_cache, tmp_path, capsys):
    """Beta(c1 + 1, n − c1 + 1) over the two trials (n counts every token of the label in
    each trial): function declaration int f (n 4, c1 2: f twice), parameter ( int a ) (n 8,
    c1 1: a), variable declaration int b = g ( a ) ; (n 16, c1 2: b, g), return return b ;
    (n 6, c1 1). Attention: P1 dwell f .2 a .1 b .4 return .3; P2 f .75 g .25; the mean."""
    priors = tmp_path / "priors"
    with package.imported():
        r = gazelm(capsys, "gaze", "fit-priors", str(toy["logs"]), *_toy_args(toy), "--on-error", "drop", "--out",
                   str(priors), "--min-count", "1")
    assert r.returncode == 0, r.stderr
    betas = {b["semantic_label"]: (b["alpha"], b["beta"])
             for b in json.loads((priors / "beta_distribution.json").read_text())}
    assert betas == {"function declaration": (3, 3), "parameter": (2, 8), "variable declaration": (3, 15),
                     "return": (2, 6)}
    bigrams = json.loads((priors / "bigram_counts.json").read_text())
    assert bigrams == {"('function declaration', 'parameter')": 1, "('parameter', 'variable declaration')": 1,
                       "('variable declaration', 'return')": 1, "('function declaration', 'variable declaration')": 1}
    [entry] = json.loads((priors / "attention.json").read_text())
    attention = {CODE[a:b] + f"@{a}": v for (a, b), v in zip(entry["spans"], entry["attention"]) if v}
    assert attention == pytest.approx({"f@4": 0.475, "a@10": 0.05, "b@23": 0.2, "g@27": 0.125, "return@37": 0.15})
    # training reads the priors folder (the format's module is not needed any more); 64 examples, so that
    # the toy priors (4 labels) weight some target tokens of the first batches
    cfg = train_config(tmp_path / "run", shared_cache, "debug=fdr", "task=completion", "objective=eyemulator",
                       "gaze=eyemulator_priors", f"gaze.priors={priors}", "model.tokenizer.vocab_size=600",
                       "data.source.max_examples={train: 64, val: 4, test: 4}")
    train(cfg)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["train/weight_mean"] > 1.0  # the toy priors' weights reached the loss (1.0: no gaze)


def test_toy_format_options_are_checked(toy, package, capsys):
    with package.imported():
        r = gazelm(capsys, "gaze", "read", str(toy["logs"]), "--format", "toy", "--plugin", "gz_toy_format",
                   "-o", "code_dir=x", "-o", "colour=red")
    assert r.returncode == 2 and "format 'toy' takes no option 'colour' (options: code_dir, on_error)" in r.stderr
    r = gazelm(capsys, "gaze", "read", str(toy["logs"]), "--format", "toy", "--plugin", "no_such_gz_module")
    assert r.returncode == 2 and "cannot import plugin module 'no_such_gz_module'" in r.stderr
