from __future__ import annotations

from pathlib import Path

import pytest

from gazelm.data.sources import load_examples
from gazelm.data.sources.common import hash_split
from gazelm.data.sources.mbpp import mbpp_split
from gazelm.data.sources.python_stdlib import first_sentence

MODULE = '''
def add(a, b):
    """Add two numbers and return the sum. More text here.

    Details.
    """
    total = a + b
    return total


class Box:
    def size(self):
        """Return the number of items in the box."""
        n = len(self.items)
        return n

def nodoc(x):
    y = x
    return y
'''


@pytest.fixture()
def tiny_stdlib(tmp_path: Path) -> Path:
    (tmp_path / "mod.py").write_text(MODULE)
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "test_mod.py").write_text(MODULE)  # test packages are excluded
    return tmp_path


def _all_splits(task: str, root: Path) -> dict[str, object]:
    out = {}
    for split in ("train", "val", "test"):
        try:
            out.update({e.id: e for e in load_examples("python_stdlib", task, split, stdlib_dir=str(root),
                                                        min_lines=3, val_percent=0, test_percent=0)})
        except Exception:  # empty splits raise; train holds everything with 0% val/test
            pass
    return out


def test_first_sentence() -> None:
    assert first_sentence("Add two numbers. More.\n\nDetails.") == "Add two numbers."
    assert first_sentence("  Return the\n   value  e.g. this one\n\nx") == "Return the value e.g. this one"


def test_stdlib_summarization_strips_the_docstring(tiny_stdlib: Path) -> None:
    ex = _all_splits("summarization", tiny_stdlib)
    assert sorted(ex) == ["mod:Box.size", "mod:add"]
    add = ex["mod:add"]
    assert add.source == "def add(a, b):\n    total = a + b\n    return total"
    assert add.target == "Add two numbers and return the sum."
    assert ex["mod:Box.size"].source.startswith("def size(self):\n    n = len")


def test_stdlib_completion_and_generation(tiny_stdlib: Path) -> None:
    comp = _all_splits("completion", tiny_stdlib)["mod:add"]
    assert (comp.source, comp.target) == ("def add(a, b):\n", "    total = a + b\n    return total")
    gen = _all_splits("generation", tiny_stdlib)["mod:add"]
    assert gen.source.startswith("def add(a, b):\n    \"\"\"Add two") and gen.source.endswith('    """')
    assert gen.target == "    total = a + b\n    return total"


@pytest.mark.parametrize("takes_cache", [True, False])
def test_the_run_cache_goes_to_sources_that_take_one(takes_cache: bool, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from gazelm.data.datamodule import GazeDataModule
    from gazelm.data.example import Example
    from gazelm.data.sources import SOURCES

    seen = []

    def load(task, split, max_examples=None, **options):
        seen.append(options)
        return [Example(id="1", task=task, source="x = 1\n", target="y", source_language="python",
                        target_language="text")]

    def cached(task, split, max_examples=None, cache_dir=None):  # noqa: ARG001 - the parameter is the point
        return load(task, split, cache_dir=cache_dir)

    monkeypatch.setitem(SOURCES._items, "gz_test_source", cached if takes_cache else load)
    monkeypatch.setitem(SOURCES._meta, "gz_test_source", {})
    for options in ({}, {"cache_dir": str(tmp_path / "mine")}):
        datamodule = GazeDataModule({"name": "gz_test_source", **options}, {"name": "summarization"},
                                    cache_dir=str(tmp_path / "run"))
        datamodule.split_examples("train")
    assert seen == [{"cache_dir": str(tmp_path / "run")} if takes_cache else {}, {"cache_dir": str(tmp_path / "mine")}]


def test_hash_split_is_stable_and_proportional() -> None:
    assert hash_split("json.decoder:py_scanstring") == hash_split("json.decoder:py_scanstring")
    counts = {s: 0 for s in ("train", "val", "test")}
    for i in range(10_000):
        counts[hash_split(f"k{i}", 5, 5)] += 1
    assert 400 < counts["val"] < 600 and 400 < counts["test"] < 600


def test_real_stdlib_has_thousands_of_examples(shared_cache: Path) -> None:
    train = load_examples("python_stdlib", "summarization", "train", cache_dir=str(shared_cache))
    assert len(train) > 1000
    assert not any(".test." in e.id or e.id.startswith("test.") for e in train)


def test_mbpp_split_follows_the_paper() -> None:
    assert [mbpp_split(i) for i in (1, 10, 11, 510, 511, 600, 601, 974)] == \
        ["train", "train", "test", "test", "val", "val", "train", "train"]


def test_humaneval_from_the_package() -> None:
    problems = load_examples("humaneval", "generation", "test")
    assert len(problems) == 164 and problems[0].id == "HumanEval/0"
    assert problems[0].meta["entry_point"] == "has_close_elements"


def test_real_files(data_dir: Path) -> None:
    mbpp = [load_examples("mbpp", "generation", s, path=str(data_dir / "mbpp" / "mbpp.jsonl")) for s in ("train", "val", "test")]
    assert [len(x) for x in mbpp] == [384, 90, 500]
    cx = load_examples("codexglue_java_cs", "translation", "val", path=str(data_dir / "codexglue-java-cs"),
                       direction="cs_java")
    assert len(cx) == 499 and cx[0].source_language == "c_sharp" and cx[0].target_language == "java"
    em = load_examples("eyemulator_jsonl", "translation", "test", path=str(data_dir / "eyemulator" / "dataset_sample"))
    assert len(em) == 30 and em[0].target_language == "c_sharp"


@pytest.mark.parametrize("name,options,task,languages", [
    ("codexglue_java_cs", {}, "translation", ("java", "c_sharp")),
    ("codexglue_java_cs", {"direction": "cs_java"}, "translation", ("c_sharp", "java")),
    ("eyemulator_jsonl", {}, "summarization", ("java", "text")),
    ("eyemulator_jsonl", {}, "completion", ("java", "java")),
    ("python_stdlib", {}, "completion", ("python", "python")),
    ("python_stdlib", {}, "summarization", ("python", "text")),
    ("mbpp", {}, "generation", ("text", "python")),
    ("eyelink_comprehension", {}, "choice", ("python", "text")),
])
def test_sources_declare_tasks_and_languages(name, options, task, languages) -> None:
    from gazelm.data.sources import source_tasks

    assert source_tasks(name, **options)[task] == languages


def test_every_shipped_source_declares_its_tasks() -> None:
    # what the preflight and ${gazelm.task_language:...} read; a user's plugin source may leave it out
    from gazelm.data.sources import SOURCES

    assert [n for n in SOURCES.names() if "tasks" not in SOURCES.meta(n)] == []


def test_declared_languages_match_the_examples(tiny_stdlib: Path) -> None:
    from gazelm.data.sources import source_tasks

    for task, (src, tgt) in source_tasks("python_stdlib").items():
        example = next(iter(_all_splits(task, tiny_stdlib).values()))
        assert (example.source_language, example.target_language) == (src, tgt)


def test_missing_source_files_are_named_without_loading(tmp_path: Path) -> None:
    from gazelm.data.sources import missing_source_files

    (tmp_path / "completion_train_sample.jsonl").write_text("")
    (tmp_path / "completion_valid_final.jsonl").write_text("")
    problems = missing_source_files("eyemulator_jsonl", "completion", path=str(tmp_path))
    assert problems == [f"eyemulator_jsonl: no completion_test_{{sample,final}}.jsonl in {tmp_path} "
                        "(set GAZELM_DATA_DIR or data.source.path)"]
    assert len(missing_source_files("codexglue_java_cs", "translation", path=str(tmp_path))) == 6
    assert missing_source_files("python_stdlib", "completion") == []
    assert missing_source_files("eyelink_comprehension", "choice", path=str(tmp_path / "nowhere")) == [
        f"EyeLink comprehension study folder not found: {tmp_path / 'nowhere'} (set GAZELM_DATA_DIR or data.source.path)"]
