"""MBPP (974 tasks) from ``mbpp.jsonl`` (fields ``task_id, text, code, test_list``).

generation: the task text (plus its first test, as the MBPP paper prompts) → code.
Splits follow the MBPP paper: test ids 11–510, val 511–600, train 601–974 (1–10 are
few-shot prompts, kept in train).
"""
from __future__ import annotations

from gazelm.data.example import Example
from gazelm.data.sources import register_source
from gazelm.data.sources.common import check_split, check_task, fixed_tasks, limit, missing, nonempty, read_jsonl
from gazelm.errors import GazelmInputError


def mbpp_split(task_id: int) -> str:
    if 11 <= task_id <= 510:
        return "test"
    if 511 <= task_id <= 600:
        return "val"
    return "train"


@register_source("mbpp", tasks=fixed_tasks({"generation": ("text", "python")}),
                 missing_files=lambda task, path=None, **_: missing(path, "mbpp.jsonl"))
def load(task: str, split: str, path: str, max_examples: int | None = None, with_test: bool = True) -> list[Example]:
    check_task("mbpp", task, ("generation",))
    check_split(split)
    examples = []
    for lineno, row in read_jsonl(path, required=("text", "code")):
        task_id = row.get("task_id")
        if not isinstance(task_id, int):
            raise GazelmInputError("expected an integer", path=path, row=lineno, field="task_id")
        if mbpp_split(task_id) != split:
            continue
        tests = row.get("test_list") or []
        prompt = row["text"] + (f"\n{tests[0]}" if with_test and tests else "")
        examples.append(Example(id=f"mbpp-{task_id}", task="generation", source=prompt, target=row["code"].replace("\r\n", "\n"),
                                source_language="text", target_language="python",
                                meta={"test_list": tests, "text": row["text"]}))
    return nonempty(limit(examples, max_examples), f"mbpp {split} in {path}")
