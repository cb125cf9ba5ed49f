"""EyeMulator release rows (schema: ``$GAZELM_DATA_DIR/eyemulator/docs/data_schema.md``) as task examples.

Each row has ``code`` (Java input) and ``content`` (C# for translation, a summary for
summarization, the next span for completion) and ``flag`` (train/valid/test). Files:
``<path>/<task>_<split>_sample.jsonl`` (the samples) or ``<path>/<task>_<split>_final.jsonl``
(the corpus), or one explicit ``file``.
"""
from __future__ import annotations

from pathlib import Path

from gazelm.data.example import Example
from gazelm.data.sources import register_source
from gazelm.data.sources.common import check_split, check_task, fixed_tasks, limit, missing, nonempty, read_jsonl
from gazelm.errors import GazelmInputError

LANGUAGES = {"translation": ("java", "c_sharp"), "completion": ("java", "java"), "summarization": ("java", "text")}
_FILE_SPLIT = {"train": "train", "val": "valid", "test": "test"}


def _find_file(path: Path, task: str, split: str) -> Path:
    for suffix in ("sample", "final"):
        candidate = path / f"{task}_{_FILE_SPLIT[split]}_{suffix}.jsonl"
        if candidate.exists():
            return candidate
    raise GazelmInputError(f"no {task}_{_FILE_SPLIT[split]}_{{sample,final}}.jsonl in this directory", path=path)


def missing_files(task: str, path: str | None = None, file: str | None = None, **_) -> list[str]:
    if file is not None:
        return missing(file, "eyemulator_jsonl file")
    if path is None:
        return ["eyemulator_jsonl needs data.source.path (a directory) or data.source.file"]
    out = []
    for split in _FILE_SPLIT.values():
        if not any((Path(path) / f"{task}_{split}_{suffix}.jsonl").exists() for suffix in ("sample", "final")):
            out.append(f"eyemulator_jsonl: no {task}_{split}_{{sample,final}}.jsonl in {path} "
                       "(set GAZELM_DATA_DIR or data.source.path)")
    return out


@register_source("eyemulator_jsonl", tasks=fixed_tasks(LANGUAGES), missing_files=missing_files)
def load(task: str, split: str, path: str | None = None, file: str | None = None,
         max_examples: int | None = None) -> list[Example]:
    check_task("eyemulator_jsonl", task, LANGUAGES)
    check_split(split)
    if file is None and path is None:
        raise GazelmInputError("eyemulator_jsonl needs `path` (a directory) or `file`", field="path")
    jsonl = Path(file) if file else _find_file(Path(path), task, split)
    examples = []
    for lineno, row in read_jsonl(jsonl, required=("code", "content")):
        key = row.get("code_content_hash") or f"{jsonl.stem}-{lineno}"
        examples.append(Example(id=f"{key}-{lineno}", task=task, source=row["code"], target=row["content"],
                                source_language=LANGUAGES[task][0], target_language=LANGUAGES[task][1],
                                meta={"file": str(jsonl), "line": lineno}))
    return nonempty(limit(examples, max_examples), str(jsonl))
