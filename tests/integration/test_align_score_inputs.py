"""``gazelm align score`` on bad input: one line naming what is wrong, exit status 2 (issue 10 §2)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from gazelm.cli.align import score_main

HUMAN = [{"prompt": "sort the list", "spans": [[9, 13]]}]
MODEL = [{"method": "m", "model": "a", "prompt": "sort the list", "tokens": [["sort", 0.9], [" the", 0.1], [" list", 0.5]]}]


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def good(tmp_path):
    return _jsonl(tmp_path / "human.jsonl", HUMAN), _jsonl(tmp_path / "model.jsonl", MODEL)


def _fails(capsys, *argv: str) -> str:
    assert score_main(list(argv)) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and captured.out == "", captured.err
    return lines[0]


def test_good_files_score(good, capsys):
    human, model = good
    assert score_main(["--human", str(human), "--model", str(model), "--k", "1"]) == 0


@pytest.mark.parametrize("k", ["0", "-3"])
def test_k_must_be_positive(good, capsys, k):
    human, model = good
    line = _fails(capsys, "--human", str(human), "--model", str(model), "--k", "5", k)
    assert line == f"gazelm align score: field '--k': K must be positive integers, got {k}"


@pytest.mark.parametrize("spans", [[[True, 4]], [[0, False]], [[0.0, 4]], [["0", 4]]])
def test_spans_must_be_integers(tmp_path, capsys, spans):
    human = _jsonl(tmp_path / "human.jsonl", [{"prompt": "sort the list", "spans": [[9, 13]]},
                                              {"prompt": "add two", "spans": spans}])
    model = _jsonl(tmp_path / "model.jsonl", MODEL)
    line = _fails(capsys, "--human", str(human), "--model", str(model))
    assert f"{human}, row 2, field 'spans': expected a list of [start, end] integer pairs" in line


@pytest.mark.parametrize("score", [True, None, "0.5"])
def test_token_scores_must_be_numbers(tmp_path, good, capsys, score):
    human, _ = good
    model = _jsonl(tmp_path / "bad.jsonl", [{**MODEL[0], "tokens": [["sort", score]]}])
    line = _fails(capsys, "--human", str(human), "--model", str(model))
    assert f"{model}, row 1, field 'tokens': expected a list of [text, score] pairs" in line


def test_non_finite_token_score_is_refused(tmp_path, good, capsys):
    human, _ = good
    model = tmp_path / "nan.jsonl"
    model.write_text('{"method": "m", "model": "a", "prompt": "sort the list", "tokens": [["sort", NaN]]}\n')
    assert "row 1, field 'tokens'" in _fails(capsys, "--human", str(human), "--model", str(model))


@pytest.mark.parametrize("which", ["human", "model"])
def test_non_utf8_file_is_named_with_its_row(tmp_path, good, capsys, which):
    human, model = good
    bad = tmp_path / f"latin1-{which}.jsonl"
    text = (human if which == "human" else model).read_text()
    bad.write_bytes(text.encode() + '{"prompt": "caf\u00e9"}\n'.encode("latin-1"))
    args = {"human": str(human), "model": str(model), which: str(bad)}
    line = _fails(capsys, "--human", args["human"], "--model", args["model"])
    assert line == f"gazelm align score: {bad}, row 2: not UTF-8 text (byte 0xe9 at column 16)"


def test_a_directory_is_not_a_file(tmp_path, good, capsys):
    _, model = good
    line = _fails(capsys, "--human", str(tmp_path), "--model", str(model))
    assert line == f"gazelm align score: {tmp_path}: is a directory, expected a JSON Lines file"
