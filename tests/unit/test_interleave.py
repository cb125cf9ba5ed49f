"""``benchmarks/interleave.py``: an arm whose worker dies is left out and named (``keep_going``),
or stops the benchmark (default, and always for a required arm)."""
from __future__ import annotations

import sys
import textwrap

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
from interleave import ArmFailed, report, run_rounds  # noqa: E402

WORKER = """
import sys
sys.path.insert(0, {bench!r})
from interleave import pull_loop, serve, worker_arm

arm = worker_arm()
if arm == "broken":
    sys.exit("no such library")  # dies at start-up, before its first answer
serve(pull_loop(lambda: 2.0 if arm == "fast" else 1.0))
"""


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "bench.py"
    path.write_text(textwrap.dedent(WORKER.format(bench=str(ROOT / "benchmarks"))))
    return [str(path)]


def test_keep_going_leaves_out_a_dead_arm_and_names_it(script, capsys) -> None:
    result = run_rounds(["fast", "slow", "broken"], rounds=3, steps=2, warmup=1, argv=script, verbose=False,
                        keep_going=True)
    assert result.arms == ["fast", "slow"] and result.failed == {"broken": "failed at start-up"}
    assert [len(result.rates[a]) for a in result.arms] == [3, 3] and "broken" not in result.rates
    assert result.units == {"fast": 12.0, "slow": 6.0}  # 3 rounds × 2 steps × units per step
    capsys.readouterr()
    report(result, "fast", ["slow", "broken"], "units")
    out = capsys.readouterr().out
    assert "LEFT OUT: failed at start-up" in out and out.rstrip().endswith("(left out: broken)")


def test_without_a_peer_the_ratio_is_nan(script, capsys) -> None:
    result = run_rounds(["fast", "broken"], rounds=1, steps=1, warmup=1, argv=script, verbose=False, keep_going=True)
    capsys.readouterr()
    assert report(result, "fast", ["broken"], "units") != report(result, "fast", ["broken"], "units")  # NaN
    assert capsys.readouterr().out.splitlines()[-1] == "RATIO nan: no peer arm ran (left out: broken)"


def test_a_dead_arm_stops_the_benchmark_by_default_and_when_required(script) -> None:
    with pytest.raises(ArmFailed, match=r"(?s)arm .broken. exited \(status 1\); its log:.*no such library"):
        run_rounds(["fast", "broken"], rounds=1, steps=1, warmup=1, argv=script, verbose=False)
    with pytest.raises(ArmFailed):
        run_rounds(["fast", "broken"], rounds=1, steps=1, warmup=1, argv=script, verbose=False, keep_going=True,
                   required=["broken"])
