"""Helpers shared by the task sources: splits, JSONL reading, task checks."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Iterator

from gazelm.errors import GazelmInputError
from gazelm.jsonl import iter_jsonl

SPLITS = ("train", "val", "test")


def fixed_tasks(languages: dict[str, tuple[str, str]]):
    """A source's ``tasks`` metadata when its languages do not depend on options."""
    def tasks(**_: Any) -> dict[str, tuple[str, str]]:
        return dict(languages)

    return tasks


def missing(path: str | Path | None, what: str) -> list[str]:
    """``[message]`` when ``path`` does not exist (for a source's ``missing_files``)."""
    if path is not None and Path(path).exists():
        return []
    return [f"{what} not found: {path} (set GAZELM_DATA_DIR or data.source.path)"]


def check_task(source: str, task: str, supported) -> None:
    if task not in supported:
        raise GazelmInputError(f"source {source!r} has no {task!r} task; it provides: {', '.join(supported)}")


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise GazelmInputError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")


def hash_split(key: str, val_percent: float = 5.0, test_percent: float = 5.0) -> str:
    """Deterministic split from a stable key (sha1, not Python's salted ``hash``)."""
    bucket = int(hashlib.sha1(key.encode()).hexdigest()[:8], 16) % 10_000 / 100.0
    if bucket < test_percent:
        return "test"
    if bucket < test_percent + val_percent:
        return "val"
    return "train"


def require_file(path: str | Path, what: str) -> Path:
    path = Path(path)
    if not path.exists():
        raise GazelmInputError(f"{what} not found (set GAZELM_DATA_DIR or data.source.path)", path=path)
    return path


def read_jsonl(path: str | Path, required: tuple[str, ...] = ()) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, row)``; a malformed line or missing field names file, line, field."""
    path = require_file(path, "JSONL file")
    for lineno, row in iter_jsonl(path):
        for key in required:
            if key not in row:
                raise GazelmInputError("missing field", path=path, row=lineno, field=key)
            if not isinstance(row[key], str):
                raise GazelmInputError(f"expected a string, got {type(row[key]).__name__}", path=path, row=lineno, field=key)
        yield lineno, row


def limit(examples: list, max_examples: int | None) -> list:
    if max_examples is not None and max_examples >= 0:
        return examples[:max_examples]
    return examples


def nonempty(examples: list, where: str) -> list:
    if not examples:
        raise GazelmInputError(f"source gave no examples ({where})")
    return examples
