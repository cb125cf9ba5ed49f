"""MBPP (974 tasks) from ``mbpp.jsonl`` (fields ``task_id, text, code, test_list``).

generation: the task text (plus its first test, as the MBPP paper prompts) → code.
Splits follow the MBPP paper: test ids 11–510, val 511–600, train 601–974 (1–10 are
few-shot prompts, kept in train). Example ids are the task ids ``MBPP/<n>``, which
pass@k scores against.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from gazelm.config import default_data_dir
from gazelm.data.example import Example
from gazelm.data.sources import register_source
from gazelm.data.sources.common import (check_split, check_task, fixed_tasks, limit, missing, nonempty,
                                        read_jsonl)
from gazelm.errors import GazelmInputError

#: Where a completion ends (bigcode-evaluation-harness's MBPP task): generation is cut at the first of these.
STOP_SEQUENCES = ("\nclass", "\nassert", '\n"""', "\nprint", "\nif", "\n<|/", "\n```")


def mbpp_split(task_id: int) -> str:
    if 11 <= task_id <= 510:
        return "test"
    if 511 <= task_id <= 600:
        return "val"
    return "train"


def mbpp_file(path: str | None = None) -> str:
    """``path``, or ``<GAZELM_DATA_DIR>/mbpp/mbpp.jsonl``."""
    return str(path) if path else str(Path(default_data_dir()) / "mbpp" / "mbpp.jsonl")


@lru_cache(maxsize=4)
def mbpp_problems(path: str | None = None) -> dict[str, dict[str, Any]]:
    """Every task by id (``MBPP/<n>``), with its ``code``, ``test_list`` and ``test_setup_code``."""
    file = mbpp_file(path)
    problems = {}
    for lineno, row in read_jsonl(file, required=("text", "code")):
        if not isinstance(row.get("task_id"), int) or isinstance(row["task_id"], bool):
            raise GazelmInputError("expected an integer", path=file, row=lineno, field="task_id")
        tests = row.get("test_list")
        if not isinstance(tests, list) or not all(isinstance(t, str) for t in tests):
            raise GazelmInputError("expected a list of strings", path=file, row=lineno, field="test_list")
        if not isinstance(row.get("test_setup_code", ""), str):
            raise GazelmInputError("expected a string", path=file, row=lineno, field="test_setup_code")
        problems[f"MBPP/{row['task_id']}"] = row
    return problems


@register_source("mbpp", stop_sequences=STOP_SEQUENCES,
                 tasks=fixed_tasks({"generation": ("text", "python")}),
                 missing_files=lambda task, path=None, **_: missing(mbpp_file(path), "mbpp.jsonl"))
def load(task: str, split: str, path: str | None = None, max_examples: int | None = None,
         with_test: bool = True) -> list[Example]:
    check_task("mbpp", task, ("generation",))
    check_split(split)
    examples = []
    for task_id, row in mbpp_problems(path).items():
        if mbpp_split(row["task_id"]) != split:
            continue
        tests = row["test_list"]
        prompt = row["text"] + (f"\n{tests[0]}" if with_test and tests else "")
        examples.append(Example(id=task_id, task="generation", source=prompt, target=row["code"].replace("\r\n", "\n"),
                                source_language="text", target_language="python",
                                meta={"test_list": tests, "text": row["text"]}))
    return nonempty(limit(examples, max_examples), f"mbpp {split} in {mbpp_file(path)}")
