"""pass@k: the unbiased estimator by hand, and the sandbox's limits."""
from __future__ import annotations

from math import comb

import pytest

import gazelm.metrics as gm
from gazelm.metrics.execution import build_program, estimate_pass_at_k, run_program


def test_pass_at_k_estimator_n10_c3():
    assert estimate_pass_at_k([10], [3], 1) == pytest.approx([0.3])
    assert estimate_pass_at_k([10], [3], 5) == pytest.approx([1 - comb(7, 5) / comb(10, 5)])  # 11/12
    assert estimate_pass_at_k([10, 10], [0, 10], 5) == pytest.approx([0.0, 1.0])


def test_sandbox_passes_and_fails_by_exit_status():
    assert run_program("assert sum([1, 2]) == 3\n").status == "passed"
    res = run_program("assert 1 == 2\n")
    assert res.status == "failed" and "AssertionError" in res.stderr


def test_sandbox_kills_an_infinite_loop():
    res = run_program("while True:\n    pass\n", timeout=1.0)
    assert res.status == "timeout" and not res.passed


def test_sandbox_stops_a_memory_hog():
    res = run_program("x = bytearray(2 * 1024 ** 3)\n", memory_mb=256)
    assert res.status == "memory"


def test_sandbox_blocks_writes_outside_its_directory(tmp_path):
    target = tmp_path / "escaped.txt"
    res = run_program(f"open({str(target)!r}, 'w').write('x')\n")
    assert res.status == "failed" and "outside the working directory" in res.stderr
    assert not target.exists()
    res = run_program(f"import os\nos.open({str(target)!r}, os.O_CREAT | os.O_WRONLY)\n")
    assert res.status == "failed" and not target.exists()
    # inside its own temporary directory, writing and reading back works
    assert run_program("open('a.txt', 'w').write('hi')\nassert open('a.txt').read() == 'hi'\n").passed


def test_sandbox_blocks_network_and_shell(tmp_path):
    res = run_program("import socket\nsocket.create_connection(('127.0.0.1', 9))\n")
    assert res.status == "failed" and "network access is blocked" in res.stderr
    marker = tmp_path / "shell.txt"
    assert run_program(f"import os\nos.system('touch {marker}')\n").status == "failed"
    assert not marker.exists()


def test_pass_at_k_on_humaneval_and_inline_tests():
    good, bad = "    return x + y\n", "    return x - y\n"
    r = gm.compute("pass_at_k", [[good, bad, bad, good], "def f(v):\n    return 2 * v\n"],
                   ["HumanEval/53", "assert f(2) == 4"], k=[1], n_jobs=2)["pass_at_k"]
    assert r.per_example == pytest.approx([0.5, 1.0])
    assert r.value == pytest.approx(0.75) and r.extras == {"pass@1": pytest.approx(0.75)}


def test_build_program_humaneval_does_not_repeat_the_prompt():
    from gazelm.metrics.execution import load_humaneval

    prompt = load_humaneval()["HumanEval/53"]["prompt"]
    program = build_program(prompt + "    return x + y\n", "HumanEval/53")
    assert program.count("def add(") == 1 and program.rstrip().endswith("check(add)")


def test_mbpp_canonical_solution_passes(data_dir):
    from gazelm.metrics.execution import load_mbpp

    problem = load_mbpp(str(data_dir / "mbpp" / "mbpp.jsonl"))["MBPP/2"]
    assert run_program(build_program(problem["code"], "MBPP/2")).passed
    assert not run_program(build_program("def similar_elements(a, b):\n    return ()\n", "MBPP/2")).passed
