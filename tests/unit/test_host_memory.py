"""``retain_freed_memory``: freed tensor memory is reused instead of page-faulted back every step."""
from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from gazelm import host_memory, training
from tests.conftest import ROOT
from tests.helpers.compose import train_config

# a step's worth of temporaries (4 MiB each, a few alive at once), then the page faults of 10 more steps
STEPS = """
import resource, sys, torch
if sys.argv[1] == "retain":
    from gazelm.host_memory import retain_freed_memory
    assert retain_freed_memory()
a = torch.rand(4, 4, 256, 256)
def step():
    x = a
    for _ in range(8):
        x = (x * a + a).softmax(-1)
    return x.sum()
step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def page_faults(mode: str) -> int:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    for key in ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_", "LD_PRELOAD"):
        env.pop(key, None)
    out = subprocess.run([sys.executable, "-c", STEPS, mode], capture_output=True, text=True, env=env, check=True)
    return int(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_freed_memory_is_reused_instead_of_faulted_back() -> None:
    default, retained = page_faults("default"), page_faults("retain")
    assert default > 10 * 256  # the C library's defaults give pages back and fault them in again (> 10 MiB)
    assert retained * 10 < default, (default, retained)


def test_other_c_libraries_are_left_alone(monkeypatch) -> None:
    monkeypatch.setattr(platform, "libc_ver", lambda *a, **k: ("", ""))
    assert host_memory.retain_freed_memory() is False
    monkeypatch.setattr(platform, "system", lambda: "Darwin")
    assert host_memory.retain_freed_memory() is False


class Built(Exception):
    """Stops ``train`` where the components would be built."""


@pytest.mark.parametrize("override, expected", [((), 1), (("retain_freed_memory=false",), 0)])
def test_gazelm_train_sets_it_unless_switched_off(tmp_path, monkeypatch, override, expected) -> None:
    calls = []
    monkeypatch.setattr(training, "retain_freed_memory", lambda: calls.append(1))
    monkeypatch.setattr(training, "build_components", lambda cfg: (_ for _ in ()).throw(Built()))
    cfg = train_config(tmp_path, tmp_path / "cache", *override)
    with pytest.raises(Built):
        training.train(cfg)
    assert len(calls) == expected
