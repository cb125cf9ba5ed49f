"""`gazelm train` on bad input: a wrongly typed override, a non-UTF-8 data file, a checkpoint that is
missing, empty, truncated, foreign or from another config — exit status 2, one line naming the key
or file (and row), no traceback. Every case raises ``GazelmInputError`` (which the CLI prints as one
line, exit 2): here one CLI run per kind of input, the other cases in ``tests/unit/test_checkpoints.py``
(each bad checkpoint file) and ``tests/unit/test_config_types.py`` (each wrongly typed value)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import torch

from gazelm.errors import GazelmInputError
from gazelm.training import train
from tests.helpers.cli import gazelm_subprocess
from tests.helpers.compose import train_config

ROWS = '{"code": "int a;", "content": "A."}\n'


def _gazelm_train(*overrides: str, tmp_path: Path, cache: Path) -> subprocess.CompletedProcess:
    return gazelm_subprocess("train", "debug=fdr", f"paths.cache_dir={cache}", f"hydra.run.dir={tmp_path}/run",
                             *overrides, timeout=300)


def _one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("gazelm train: error:")]
    assert len(errors) == 1, result.stderr[-2000:]
    return errors[0]


def _non_utf8_jsonl(folder: Path) -> Path:
    folder.mkdir()
    path = folder / "summarization_train_sample.jsonl"
    path.write_bytes(ROWS.encode() + '{"code": "int b;", "content": "caf'.encode() + b"\xe9" + b'."}\n' + ROWS.encode())
    for split in ("valid", "test"):  # present, so the run gets past the preflight's file check
        (folder / f"summarization_{split}_sample.jsonl").write_text(ROWS)
    return path


@pytest.mark.parametrize("overrides,expected", [
    (["trainer.max_epochs=abc"], "field 'trainer.max_epochs': expected an integer or null, got 'abc'"),
    (["ckpt_path=TMP/cut.ckpt"], "cut.ckpt, field 'ckpt_path': checkpoint file is truncated or corrupt"),
    (["data=eyemulator_jsonl", "data.source.path=TMP/rows"],
     "summarization_train_sample.jsonl, row 2: not UTF-8 text (byte 0xe9 at column 35)"),
    (["resume=TMP"], "field 'resume': not a gazelm run directory"),
], ids=["max_epochs", "truncated-ckpt", "non-utf8-data", "resume-not-a-run"])
def test_cli_error_is_one_line_with_exit_status_2(overrides, expected, tmp_path: Path, shared_cache: Path) -> None:
    torch.save({"state_dict": {"w": torch.zeros(100)}}, tmp_path / "whole.ckpt")
    data = (tmp_path / "whole.ckpt").read_bytes()
    (tmp_path / "cut.ckpt").write_bytes(data[: len(data) // 2])
    _non_utf8_jsonl(tmp_path / "rows")
    result = _gazelm_train(*(o.replace("TMP", str(tmp_path)) for o in overrides), tmp_path=tmp_path, cache=shared_cache)
    assert expected in _one_error_line(result)


def test_non_utf8_codexglue_file_is_named_with_its_row(tmp_path: Path) -> None:
    from gazelm.data.sources import load_examples

    (tmp_path / "train.java-cs.txt.java").write_bytes(b"a();\nb();\nString s = \"\xff\";\n")
    (tmp_path / "train.java-cs.txt.cs").write_text("A();\nB();\nC();\n")
    with pytest.raises(GazelmInputError, match=r"train.java-cs.txt.java, row 3: not UTF-8 text \(byte 0xff at column 13\)"):
        load_examples("codexglue_java_cs", "translation", "train", path=str(tmp_path))


def test_checkpoint_of_another_config_names_the_keys(tmp_path: Path, shared_cache: Path) -> None:
    quick = ("debug=limit", "trainer.max_epochs=1", "trainer.limit_train_batches=1", "trainer.limit_val_batches=1",
             "trainer.limit_test_batches=1", "callbacks.generation=null", "model=tiny_causal",
             "model.tokenizer.vocab_size=600", "data.source.max_examples={train: 16, val: 4, test: 4}")
    train(train_config(tmp_path / "a", shared_cache, *quick))
    checkpoint = tmp_path / "a" / "checkpoints" / "last.ckpt"
    with pytest.raises(GazelmInputError) as err:
        train(train_config(tmp_path / "b", shared_cache, *quick, "model.config.hidden_size=64",
                           f"ckpt_path={checkpoint}"))
    text = str(err.value)
    assert "\n" not in text and text.startswith(f"{checkpoint}, field 'ckpt_path': the weights do not fit this model")
    assert "model.config.hidden_size: 128 in the checkpoint's run, 64 now" in text
    assert "backbone.model.model.embed_tokens.weight [" in text
