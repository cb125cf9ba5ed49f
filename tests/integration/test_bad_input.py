"""Bad input gives one clear line naming the file, line and field — no traceback soup."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gazelm.data.sources import load_examples
from gazelm.errors import GazelmInputError
from gazelm.registry import UnknownNameError
from tests.helpers.cli import gazelm_subprocess


def _train(*overrides: str, cache: Path) -> subprocess.CompletedProcess:
    return gazelm_subprocess("train", "debug=fdr", f"paths.cache_dir={cache}", *overrides, timeout=300)


def test_missing_data_directory_names_the_path(tmp_path: Path, shared_cache: Path) -> None:
    result = _train("data=codexglue_java_cs", "task=translation", f"paths.data_dir={tmp_path}/nowhere",
                    f"hydra.run.dir={tmp_path}/run", cache=shared_cache)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "nowhere/codexglue-java-cs/train.java-cs.txt.java" in result.stderr
    assert "set GAZELM_DATA_DIR" in result.stderr


def test_malformed_jsonl_line_names_file_and_line(tmp_path: Path, shared_cache: Path) -> None:
    folder = tmp_path / "rows"
    folder.mkdir()
    good = '{"code": "int a;", "content": "A."}\n'
    (folder / "summarization_train_sample.jsonl").write_text(good + '{"code": "int b;", "content": \n' + good)
    for split in ("valid", "test"):  # present, so the run gets past the preflight's file check
        (folder / f"summarization_{split}_sample.jsonl").write_text(good)
    result = _train("data=eyemulator_jsonl", f"data.source.path={folder}", f"hydra.run.dir={tmp_path}/run",
                    cache=shared_cache)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "summarization_train_sample.jsonl, row 2: malformed JSON" in result.stderr


def test_missing_field_is_named(tmp_path: Path) -> None:
    path = tmp_path / "summarization_train_sample.jsonl"
    path.write_text('{"code": "int a;", "content": "A."}\n{"code": "int b;"}\n')
    with pytest.raises(GazelmInputError, match=r"row 2, field 'content': missing field"):
        load_examples("eyemulator_jsonl", "summarization", "train", file=str(path))


@pytest.mark.parametrize("override,expected", [
    ("task=no_such_task", "Could not find 'task/no_such_task'"),
    ("model=no_such_model", "Could not find 'model/no_such_model'"),
])
def test_unknown_config_names_list_the_options(override: str, expected: str, tmp_path: Path, shared_cache: Path) -> None:
    result = _train(override, f"hydra.run.dir={tmp_path}/run", cache=shared_cache)
    assert result.returncode != 0
    assert expected in result.stderr and "Available options" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_source_and_unsupported_task() -> None:
    with pytest.raises(UnknownNameError, match="unknown task source 'nope'; known: codexglue_java_cs"):
        load_examples("nope", "summarization", "train")
    with pytest.raises(GazelmInputError, match="'python_stdlib' has no 'translation' task"):
        load_examples("python_stdlib", "translation", "train")


def test_empty_source_is_an_error(tmp_path: Path) -> None:
    stdlib = tmp_path / "lib"
    stdlib.mkdir()
    (stdlib / "empty.py").write_text("x = 1\n")
    with pytest.raises(GazelmInputError, match="source gave no examples"):
        load_examples("python_stdlib", "summarization", "train", stdlib_dir=str(stdlib))


def test_misaligned_codexglue_files(tmp_path: Path) -> None:
    (tmp_path / "train.java-cs.txt.java").write_text("a();\nb();\n")
    (tmp_path / "train.java-cs.txt.cs").write_text("A();\n")
    with pytest.raises(GazelmInputError, match="must be line-aligned"):
        load_examples("codexglue_java_cs", "translation", "train", path=str(tmp_path))
    (tmp_path / "train.java-cs.txt.cs").write_text("A();\n\n")
    with pytest.raises(GazelmInputError, match=r"train.java-cs.txt.cs, row 2: empty line"):
        load_examples("codexglue_java_cs", "translation", "train", path=str(tmp_path))


def test_missing_split_files_are_all_named_before_anything_runs(tmp_path: Path, shared_cache: Path) -> None:
    folder = tmp_path / "rows"
    folder.mkdir()
    (folder / "summarization_train_sample.jsonl").write_text('{"code": "int a;", "content": "A."}\n')
    result = _train("data=eyemulator_jsonl", f"data.source.path={folder}", f"hydra.run.dir={tmp_path}/run",
                    cache=shared_cache)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "no summarization_valid_{sample,final}.jsonl in" in result.stderr
    assert "no summarization_test_{sample,final}.jsonl in" in result.stderr
    assert not (tmp_path / "run" / "csv").exists()  # nothing was built or trained
