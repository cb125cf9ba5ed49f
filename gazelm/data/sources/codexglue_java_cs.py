"""CodeXGLUE code-to-code translation, Java ↔ C#, from its line-aligned files.

``<dir>/{train,valid,test}.java-cs.txt.{java,cs}``: line *i* of the ``.java`` file is
the translation of line *i* of the ``.cs`` file. ``direction: java_cs | cs_java``.
Users with network may instead use the Hugging Face hub copy
(``code_x_glue_cc_code_to_code_trans``) through :func:`load_from_hub`.
"""
from __future__ import annotations

from pathlib import Path

from gazelm.data.example import Example
from gazelm.data.sources import register_source
from gazelm.data.sources.common import check_split, check_task, limit, missing, nonempty, require_file
from gazelm.errors import GazelmInputError
from gazelm.textfiles import read_text

_FILE_SPLIT = {"train": "train", "val": "valid", "test": "test"}
_LANG = {"java": ("java", "java"), "cs": ("cs", "c_sharp")}


def _read_lines(path: Path) -> list[str]:
    """Lines split on "\n" only (a stray "\r" inside a line must not shift the alignment)."""
    lines = read_text(require_file(path, "CodeXGLUE file")).split("\n")
    return [line.rstrip("\r") for line in (lines[:-1] if lines and lines[-1] == "" else lines)]


def tasks(direction: str = "java_cs", **_) -> dict[str, tuple[str, str]]:
    src, tgt = direction.split("_") if direction in ("java_cs", "cs_java") else ("java", "cs")
    return {"translation": (_LANG[src][1], _LANG[tgt][1])}


def missing_files(task: str, path: str | None = None, direction: str = "java_cs", **_) -> list[str]:
    if path is None:
        return ["codexglue_java_cs needs data.source.path"]
    return [m for split in _FILE_SPLIT.values() for ext in ("java", "cs")
            for m in missing(Path(path) / f"{split}.java-cs.txt.{ext}", "CodeXGLUE file")]


@register_source("codexglue_java_cs", tasks=tasks, missing_files=missing_files)
def load(task: str, split: str, path: str, direction: str = "java_cs",
         max_examples: int | None = None) -> list[Example]:
    check_task("codexglue_java_cs", task, ("translation",))
    check_split(split)
    if direction not in ("java_cs", "cs_java"):
        raise GazelmInputError(f"unknown direction {direction!r}; expected java_cs or cs_java", field="direction")
    src_ext, tgt_ext = direction.split("_")
    base = Path(path) / f"{_FILE_SPLIT[split]}.java-cs.txt"
    src_file, tgt_file = Path(f"{base}.{src_ext}"), Path(f"{base}.{tgt_ext}")
    sources, targets = _read_lines(src_file), _read_lines(tgt_file)
    if len(sources) != len(targets):
        raise GazelmInputError(f"{len(sources)} lines but {tgt_file.name} has {len(targets)}; files must be line-aligned",
                               path=src_file)
    examples = []
    for i, (s, t) in enumerate(zip(sources, targets), start=1):
        if not s.strip() or not t.strip():
            raise GazelmInputError("empty line in a line-aligned file", path=src_file if not s.strip() else tgt_file, row=i)
        examples.append(Example(id=f"{split}-{i}", task="translation", source=s, target=t,
                                source_language=_LANG[src_ext][1], target_language=_LANG[tgt_ext][1]))
    return nonempty(limit(examples, max_examples), str(src_file))


def load_from_hub(split: str, direction: str = "java_cs") -> list[Example]:  # pragma: no cover - needs network
    """The same data from the Hugging Face hub (needs network and ``datasets``)."""
    from datasets import load_dataset

    ds = load_dataset("google/code_x_glue_cc_code_to_code_trans", split=_FILE_SPLIT[split].replace("valid", "validation"))
    s_key, t_key = ("java", "cs") if direction == "java_cs" else ("cs", "java")
    return [Example(id=f"{split}-{i + 1}", task="translation", source=row[s_key], target=row[t_key],
                    source_language=_LANG[s_key][1], target_language=_LANG[t_key][1]) for i, row in enumerate(ds)]
