"""``gazelm eval`` predictions-file mode on real CodeXGLUE Java→C# lines, through the CLI."""
from __future__ import annotations

import json

import pytest

import gazelm.metrics as gm
from tests.helpers.cli import gazelm_subprocess


def test_eval_predictions_file_prints_json_last_and_writes_outputs(data_dir, tmp_path):
    refs = (data_dir / "codexglue-java-cs" / "test.java-cs.txt.cs").read_text().splitlines()[:60]
    preds = [r.replace("public ", "", 1) if i % 3 else r for i, r in enumerate(refs)]
    (tmp_path / "P.txt").write_text("\n".join(preds) + "\n")
    (tmp_path / "R.txt").write_text("\n".join(refs) + "\n")
    out = tmp_path / "out"
    res = gazelm_subprocess("eval", "predictions=P.txt", "references=R.txt",
                            "metrics=[bleu_codexglue,exact_match_codexglue,codebleu]", "lang=c_sharp",
                            f"hydra.run.dir={out}", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    printed = json.loads(res.stdout.strip().splitlines()[-1])
    expected = gm.score(["bleu_codexglue", "exact_match_codexglue", "codebleu"], preds, refs, lang="c_sharp")
    assert printed == pytest.approx(expected)
    assert printed["exact_match_codexglue"] == pytest.approx(100 * 20 / 60)
    from codebleu import calc_codebleu

    assert printed["codebleu"] == pytest.approx(calc_codebleu(refs, preds, "c_sharp")["codebleu"], abs=1e-12)
    assert json.loads((out / "metrics.json").read_text()) == pytest.approx(expected)
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 60 and rows[0]["scores"]["exact_match_codexglue"] == 100.0
    assert json.loads((out / "eval_info.json").read_text())["n"] == 60


def test_eval_jsonl_predictions_and_bad_input_errors(tmp_path):
    rows = [{"id": "x1", "prediction": "return a;", "reference": "return a;"},
            {"id": "x2", "prediction": "return b;", "reference": "return c;"}]
    (tmp_path / "preds.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = gazelm_subprocess("eval", "predictions=preds.jsonl", "metrics=[exact_match,h_exact]",
                            f"hydra.run.dir={tmp_path / 'o'}", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout.strip().splitlines()[-1]) == {"exact_match": 0.5, "h_exact": 0.5}
    res = gazelm_subprocess("eval", "predictions=preds.jsonl", "metrics=exact_match",
                            f"hydra.run.dir={tmp_path / 'o1'}", cwd=tmp_path)
    assert json.loads(res.stdout.strip().splitlines()[-1]) == {"exact_match": 0.5}

    (tmp_path / "R.txt").write_text("only one line\n")
    (tmp_path / "P.txt").write_text("a\nb\n")
    res = gazelm_subprocess("eval", "predictions=P.txt", "references=R.txt", "metrics=[exact_match]",
                            f"hydra.run.dir={tmp_path / 'o2'}", cwd=tmp_path)
    assert res.returncode != 0 and "2 predictions in P.txt but 1 references" in res.stderr

    (tmp_path / "bad.jsonl").write_text('{"id": 1, "prediction": "x", "reference": "x"}\n{"id": 2}\n')
    res = gazelm_subprocess("eval", "predictions=bad.jsonl", f"hydra.run.dir={tmp_path / 'o3'}", cwd=tmp_path)
    assert res.returncode != 0 and "bad.jsonl, row 2, field 'prediction'" in res.stderr
