"""``gazelm eval`` on bad input (one line, exit 2), samples for pass@k, and a user's own metric."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from gazelm.cli.eval import run
from gazelm.errors import GazelmInputError
from tests.helpers.cli import gazelm_subprocess
from tests.helpers.compose import compose_config

ROWS = [{"id": "x1", "prediction": "return a;", "reference": "return a;"},
        {"id": "x2", "prediction": "return b;", "reference": "return c;"}]


def _jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def _evaluate(tmp_path: Path, *overrides: str) -> dict[str, float]:
    cfg = compose_config(list(overrides), config_name="eval", output_dir=tmp_path / "out")
    return run(cfg, tmp_path / "out")


BAD_INPUTS = {
    # name: (files to write, overrides, expected message)
    "non-UTF-8 predictions": ({"P.txt": b"ok\n\xff\xfe bad\n", "R.txt": b"ok\nok\n"},
                              ["predictions=P.txt", "references=R.txt"],
                              r"P.txt, row 2, field 'predictions': not UTF-8 text \(byte 0xff at offset 3\)"),
    "non-UTF-8 references": ({"P.txt": b"a\nb\n", "R.txt": b"a\n\xe9t\xe9\n"}, ["predictions=P.txt", "references=R.txt"],
                             r"R.txt, row 2, field 'references': not UTF-8"),
    "non-UTF-8 JSONL": ({"P.jsonl": _jsonl(ROWS[:1]).encode() + b'{"id": "x2", "prediction": "\xff"}\n'},
                        ["predictions=P.jsonl"], r"P.jsonl, row 2, field 'predictions': not UTF-8"),
    "directory as predictions": ({"P.txt/keep": b""}, ["predictions=P.txt", "references=P.txt"],
                                 r"P.txt, field 'predictions': is a directory"),
    "directory as references": ({"P.txt": b"a\n", "R/keep": b""}, ["predictions=P.txt", "references=R"],
                                r"R, field 'references': is a directory"),
    "empty predictions": ({"P.txt": b"", "R.txt": b"a\n"}, ["predictions=P.txt", "references=R.txt"],
                          r"P.txt, field 'predictions': the file is empty"),
    "empty references": ({"P.txt": b"a\n", "R.txt": b""}, ["predictions=P.txt", "references=R.txt"],
                         r"R.txt, field 'references': the file is empty"),
    "empty JSONL": ({"P.jsonl": b"\n\n"}, ["predictions=P.jsonl"], r"P.jsonl, field 'predictions': no predictions"),
    "misaligned text files": ({"P.txt": b"a\nb\n", "R.txt": b"a\n"}, ["predictions=P.txt", "references=R.txt"],
                              r"2 predictions in P.txt but 1 references"),
    "misaligned JSONL and references": ({"P.jsonl": _jsonl(ROWS).encode(), "R.txt": b"a\nb\nc\n"},
                                        ["predictions=P.jsonl", "references=R.txt"],
                                        r"2 predictions in P.jsonl but 3 references"),
    "missing file": ({}, ["predictions=nope.jsonl"], r"nope.jsonl, field 'predictions': file not found"),
    "option no metric takes": ({"P.jsonl": _jsonl(ROWS).encode()}, ["predictions=P.jsonl", "metrics=[exact_match]",
                                                                    "metric_options={k: [1, 10]}"],
                               r"field 'metric_options': option\(s\) k accepted by none"),
    "pass@k on text references": ({"P.jsonl": _jsonl(ROWS).encode()}, ["predictions=P.jsonl", "metrics=[pass_at_k]"],
                                  r"row 1, field 'reference': pass_at_k scores against HumanEval/<n> or MBPP/<n>"),
    "samples for a text metric": ({"P.jsonl": _jsonl([{"id": "a", "prediction": ["x", "y"], "reference": "x"}]).encode()},
                                  ["predictions=P.jsonl", "metrics=[exact_match]"],
                                  r"row 1, field 'prediction': exact_match score\(s\) one prediction"),
    "two modes at once": ({"P.jsonl": _jsonl(ROWS).encode()}, ["predictions=P.jsonl", "checkpoint=x.ckpt"],
                          r"give one of predictions, checkpoint, pretrained, not predictions and checkpoint"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS), ids=list(BAD_INPUTS))
def test_bad_input_is_one_named_error(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files, overrides, message = BAD_INPUTS[case]
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(GazelmInputError, match=message):
        _evaluate(tmp_path, *overrides, "metrics=[exact_match]" if not any(o.startswith("metrics=") for o in overrides)
                  else "lang=java")


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "P.txt").write_bytes(b"a\n\xff\n")
    (tmp_path / "R.txt").write_text("a\n")
    (tmp_path / "E.txt").write_text("")
    for args, expected in ([["predictions=P.txt", "references=R.txt"], "P.txt, row 2, field 'predictions': not UTF-8"],
                           [["predictions=E.txt", "references=R.txt"], "E.txt, field 'predictions': the file is empty"]):
        res = gazelm_subprocess("eval", *args, "metrics=[exact_match]", f"hydra.run.dir={tmp_path / 'o'}", cwd=tmp_path)
        assert res.returncode == 2, res.stderr
        assert res.stderr.strip().splitlines()[-1].startswith(f"gazelm eval: error: {expected}")
        assert "Traceback" not in res.stderr and res.stdout == ""


def test_pass_at_k_from_jsonl_samples(tmp_path: Path, sandbox) -> None:
    good, bad = "    return x + y\n", "    return x - y\n"
    rows = [{"id": "HumanEval/53", "prediction": [good, bad]}, {"id": "MBPP/2", "prediction": [
        "def similar_elements(a, b):\n    return tuple(set(a) & set(b))\n"] * 2}]
    (tmp_path / "samples.jsonl").write_text(_jsonl(rows))
    res = gazelm_subprocess("eval", "predictions=samples.jsonl", "metrics=[pass_at_k]", "metric_options={k: [1, 2]}",
                            f"hydra.run.dir={tmp_path / 'o'}", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    # HumanEval/53: 1 of 2 → pass@1 = 0.5, pass@2 = 1; MBPP/2: 2 of 2 → 1, 1
    assert json.loads(res.stdout.strip().splitlines()[-1]) == {"pass_at_k": 0.75, "pass_at_k/pass@1": 0.75,
                                                                "pass_at_k/pass@2": 1.0}
    scored = [json.loads(line) for line in (tmp_path / "o" / "predictions.jsonl").read_text().splitlines()]
    assert scored[0]["prediction"] == [good, bad] and scored[0]["scores"] == {"pass_at_k": 0.5}


@pytest.mark.parametrize("model_type,kind", [("t5", "seq2seq"), ("llama", "causal")])
def test_pretrained_kind_comes_from_the_models_config(model_type: str, kind: str, tmp_path: Path) -> None:
    from transformers import AutoConfig

    from gazelm.evaluation import model_kind

    AutoConfig.for_model(model_type).save_pretrained(tmp_path)
    assert model_kind(str(tmp_path)) == kind
    with pytest.raises(GazelmInputError, match="field 'pretrained'.*pass kind=causal or kind=seq2seq"):
        model_kind(str(tmp_path / "nowhere"))


def test_documented_override_forms_compose(tmp_path: Path) -> None:
    """The forms docs/metrics.md shows for execution, metric options and sampling."""
    cfg = compose_config(["metric_options={k: [1, 10]}", "execution.isolation=process", "execution.bwrap=/usr/bin/bwrap",
                          "generation.num_return_sequences=10", "generation.do_sample=true",
                          "generation.temperature=0.8", 'overrides=["data=mbpp","task=generation"]'],
                         config_name="eval", output_dir=tmp_path)
    assert cfg.metric_options.k == [1, 10] and cfg.execution.isolation == "process"
    assert cfg.generation.temperature == 0.8 and list(cfg.overrides) == ["data=mbpp", "task=generation"]
    train = compose_config(["callbacks.generation.metric_options={execution: {isolation: process}}",
                            "callbacks.generation.metrics=[pass_at_k]"], output_dir=tmp_path)
    assert train.callbacks.generation.metric_options.execution.isolation == "process"


def test_training_overrides_after_double_dash_round_trip() -> None:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from gazelm.cli.eval import split_train_overrides

    tail = ["data=mbpp", "task.max_source_length=512", "model.name_or_path=/a b/it's\\x", 'x="y"', "a=b\\",
            "data.source.max_examples={test: 4}", "gaze.w=[1,2]"]
    argv = split_train_overrides(["checkpoint=c.ckpt", "split=val", "--", *tail])
    assert argv[:2] == ["checkpoint=c.ckpt", "split=val"]
    assert OverridesParser.create().parse_overrides([argv[2]])[0].value() == tail
    assert split_train_overrides(["predictions=P.jsonl"]) == ["predictions=P.jsonl"]
    with pytest.raises(SystemExit):
        split_train_overrides(["overrides=[a]", "--", "b=c"])
