"""The sandbox under attack: what a hostile model's completion would try, each with its expected outcome.

Outcomes: ``fails`` (never scored as a pass), ``contained`` (no effect outside the sandbox:
no file, no connection, no signal), ``scorer survives``, ``no process left``, ``bounded
memory``. Host-side effects are checked on the host (files under ``tmp_path``, a listener
the test opens, a sentinel process, ``/proc`` of the host), never by trusting the program.
"""
from __future__ import annotations

import json
import os
import platform
import signal
import socket
import subprocess
import sys
import textwrap
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from gazelm.sandbox import Sandbox, SandboxUnavailableError
from tests.conftest import ROOT

WRONG = "def f(x):\n    return 0\n"
CHECKS = "assert f(1) == 2\n"  # fails for WRONG: a pass can only be faked
RIGHT = "def f(x):\n    return x + 1\n"


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    box = Sandbox(timeout=5.0, memory_mb=512, max_processes=16)
    try:
        return box.ready()
    except SandboxUnavailableError as err:
        pytest.skip(f"bubblewrap cannot run here: {err}")


def host_processes_with(marker: str) -> list[int]:
    """Host pids whose command line contains ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


# ---------------------------------------------------------------- fails: a wrong program is never a pass
EXIT_TRICKS = {
    "sys.exit(0)": "import sys\nsys.exit(0)\n",
    "os._exit(0)": "import os\nos._exit(0)\n",
    "raise SystemExit(0)": "raise SystemExit(0)\n",
    "exit() builtin": "exit(0)\n",
    "atexit hook exits 0": "import atexit, os\natexit.register(lambda: os._exit(0))\n",
    "sys.excepthook exits 0": "import sys, os\nsys.excepthook = lambda *a: os._exit(0)\n",
    "threading.excepthook": "import threading, os\nthreading.excepthook = lambda *a: os._exit(0)\n",
    "SIGALRM handler exits 0": "import signal, os\nsignal.signal(signal.SIGALRM, lambda *a: os._exit(0))\n"
                               "signal.setitimer(signal.ITIMER_REAL, 0.001)\nimport time\ntime.sleep(0.5)\n",
    "kill itself": "import posix, signal\nposix.kill(posix.getpid(), signal.SIGKILL)\n",
    "replace builtins.exec": "import builtins\nbuiltins.exec = lambda *a, **k: None\nbuiltins.compile = lambda *a, **k: None\n",
    "replace AssertionError": "import builtins\nbuiltins.AssertionError = type('Ok', (Exception,), {})\n",
    "swallow the checks in a string": 'x = """\n',
    "swallow the checks in a bracket": "x = (\n",
    "print a fake nonce": "import os\nfor fd in range(1, 64):\n    try:\n        os.write(fd, b'started\\n' + b'0' * 32 + b'\\n')\n"
                          "    except OSError:\n        pass\nos._exit(0)\n",
    "read the nonce from every fd and /proc": textwrap.dedent("""\
        import os, re, posix
        seen = b""
        for fd in range(0, 256):
            try:
                seen += posix.read(fd, 1 << 16)
            except OSError:
                pass
        for name in ("environ", "cmdline"):
            for pid in ("self", "1"):
                try:
                    seen += open(f"/proc/{pid}/{name}", "rb").read()
                except OSError:
                    pass
        for path in ("/proc/self/fd",):
            for entry in os.listdir(path):
                try:
                    seen += open(f"{path}/{entry}", "rb").read(1 << 16)
                except OSError:
                    pass
        for token in set(re.findall(rb"[0-9a-f]{32}", seen)) or {b"0" * 32}:
            for fd in range(1, 256):
                try:
                    posix.write(fd, b"started\\n" + token + b"\\n")
                except OSError:
                    pass
        posix._exit(0)
        """),
}


@pytest.mark.parametrize("isolation", ["bwrap", "process"])
@pytest.mark.parametrize("trick", list(EXIT_TRICKS), ids=list(EXIT_TRICKS))
def test_exit_and_hook_tricks_fail(trick: str, isolation: str, request: pytest.FixtureRequest) -> None:
    if isolation == "bwrap":
        request.getfixturevalue("sandbox")  # skips where bwrap cannot run; the nonce holds without it too
    box = Sandbox(isolation=isolation, timeout=5.0, memory_mb=512, max_processes=16)
    result = box.run(WRONG + EXIT_TRICKS[trick], CHECKS)
    assert result.status != "passed", result
    assert box.run(RIGHT, CHECKS).passed  # the same harness passes an honest program


@pytest.mark.xfail(strict=True, reason="documented limit (docs/metrics.md): code in the harness's own process can "
                                      "read the harness's frame; the nonce stops exit tricks, not in-process "
                                      "introspection; the sandbox still contains what such a program does")
def test_reading_the_harness_frame_fakes_a_pass(sandbox: Sandbox) -> None:
    steal = ("import sys, os\nf = sys._getframe(1).f_locals\nos.write(f['status_fd'], f['nonce'] + b'\\n')\n"
             "os._exit(0)\n")
    assert not sandbox.run(WRONG + steal, CHECKS).passed


# ---------------------------------------------------------------- contained: no effect outside
@dataclass
class Attack:
    program: Callable[[Path, dict], str]      # (host dir, context) -> solution code
    outcome: str                              # what must hold afterwards
    check: Callable[[Path, dict], None]       # host-side verification


def _no_files(tmp: Path, ctx: dict) -> None:
    assert not (tmp / "escaped").exists() and not (tmp / "escaped_dir").exists()
    assert not list(Path(sys.prefix).glob(f"escaped-{ctx['uuid']}*"))


def _no_connection(tmp: Path, ctx: dict, listener: str = "listener") -> None:
    ctx[listener].settimeout(0.5)
    with pytest.raises(socket.timeout):
        ctx[listener].accept()
    _no_files(tmp, ctx)


def _sentinel_alive(tmp: Path, ctx: dict) -> None:
    assert ctx["sentinel_process"].poll() is None, "a host process was killed from inside the sandbox"


def _nothing_left(tmp: Path, ctx: dict) -> None:
    assert host_processes_with(ctx["marker_seconds"]) == []


WRITE_OUTSIDE = """
import io, _io, os, posix
for opener in (lambda p: io.FileIO(p, "w"), lambda p: _io.open(p, "w"), lambda p: open(p, "w"),
               lambda p: posix.open(p, posix.O_CREAT | posix.O_WRONLY)):
    for path in ({target!r}, {venv!r}):
        try:
            opener(path)
        except Exception:
            pass
for path in ({target_dir!r}, {venv!r} + "-dir"):
    try:
        posix.mkdir(path)
    except Exception:
        pass
"""

CTYPES_SYSCALLS = """
import ctypes, socket, struct
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall(257, -100, {target!r}.encode(), 0o101, 0o644)     # openat(AT_FDCWD, O_CREAT|O_WRONLY)
libc.syscall(83, {target_dir!r}.encode(), 0o755)              # mkdir
libc.syscall(165, b"none", b"/usr", b"tmpfs", 0, None)        # mount over a read-only bind
s = libc.syscall(41, 2, 1, 0)                                  # socket(AF_INET, SOCK_STREAM)
addr = struct.pack("!HH4s8x", 2, {port}, bytes([127, 0, 0, 1]))
libc.syscall(42, s, addr, len(addr))                           # connect
libc.syscall(62, {sentinel}, 9)                                # kill(sentinel, SIGKILL)
libc.syscall(62, {scorer}, 9)                                  # kill(scorer, SIGKILL)
"""

KILL_PARENT = """
import os, posix, signal
for pid in ({sentinel}, {scorer}, posix.getppid(), 1, -1):
    try:
        posix.kill(pid, signal.SIGKILL)
    except OSError:
        pass
for pid in ({sentinel}, {scorer}):
    try:
        fd = os.pidfd_open(pid)
        signal.pidfd_send_signal(fd, signal.SIGKILL)
    except OSError:
        pass
"""

SHELLS = """
import os
os.posix_spawn("/bin/sh", ["sh", "-c", "echo x > {target}; mkdir {target_dir}; echo x > {venv}"], {{}})
os.execv("/bin/sh", ["sh", "-c", "echo x > {target}; mkdir {target_dir}"])
"""

NETWORK = """
import _socket
s = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
s.settimeout(2)
s.connect(("127.0.0.1", {port}))
"""

UNIX_SOCKET = """
import _socket
s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
s.connect({unix!r})
"""

HOLD_THE_PIPE = """
import posix, os
if posix.fork() == 0:
    posix.setsid()
    if posix.fork() == 0:
        posix.execv("/bin/sleep", ["sleep", {marker_seconds!r}])
    posix._exit(0)
"""

SLEEP_BOMB = """
import posix
while True:
    try:
        if posix.fork() == 0:
            posix.execv("/bin/sleep", ["sleep", {marker_seconds!r}])
    except OSError:
        break
"""

FORK_BOMB = """
import posix
while True:
    try:
        posix.fork()
    except OSError:
        pass
"""

ATTACKS = {
    "io.FileIO/_io.open/open/os.open/os.mkdir outside": Attack(lambda t, c: WRITE_OUTSIDE.format(**c), "no file outside",
                                                               _no_files),
    "os.posix_spawn and os.execv shells": Attack(lambda t, c: SHELLS.format(**c), "no file outside", _no_files),
    "_socket connect to a host port": Attack(lambda t, c: NETWORK.format(**c), "contained", _no_connection),
    "_socket connect to a host unix socket": Attack(lambda t, c: UNIX_SOCKET.format(**c), "contained",
                                                    lambda t, c: _no_connection(t, c, "unix_listener")),
    "ctypes raw syscalls": Attack(lambda t, c: CTYPES_SYSCALLS.format(**c), "contained",
                                  lambda t, c: (_no_connection(t, c), _sentinel_alive(t, c))),
    "os.kill / pidfd_send_signal on the scorer and others": Attack(lambda t, c: KILL_PARENT.format(**c),
                                                                   "scorer survives", _sentinel_alive),
    "setsid double-fork child holds the pipe": Attack(lambda t, c: HOLD_THE_PIPE.format(**c), "no process left",
                                                      _nothing_left),
    "process bomb": Attack(lambda t, c: SLEEP_BOMB.format(**c), "no process left", _nothing_left),
    "fork bomb": Attack(lambda t, c: FORK_BOMB, "scorer survives", _sentinel_alive),
}


@pytest.mark.parametrize("name", list(ATTACKS), ids=list(ATTACKS))
def test_attack_is_contained(name: str, sandbox: Sandbox, tmp_path: Path) -> None:
    if name == "ctypes raw syscalls" and platform.machine() != "x86_64":
        pytest.skip("syscall numbers are x86_64's")
    attack = ATTACKS[name]
    marker = uuid.uuid4().hex
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(str(tmp_path / "host.sock"))
    unix.listen(1)
    sentinel = subprocess.Popen(["sleep", "300"])
    ctx = {"uuid": marker, "marker_seconds": f"300.{int(marker[:8], 16)}", "target": str(tmp_path / "escaped"),
           "target_dir": str(tmp_path / "escaped_dir"), "venv": f"{sys.prefix}/escaped-{marker}",
           "port": listener.getsockname()[1], "unix": str(tmp_path / "host.sock"), "sentinel": sentinel.pid,
           "scorer": os.getpid(), "listener": listener, "sentinel_process": sentinel,
           "unix_listener": unix}
    try:
        result = sandbox.run(RIGHT + attack.program(tmp_path, ctx), CHECKS)
        attack.check(tmp_path, ctx)
        assert result.status in ("passed", "failed", "timeout", "memory")  # the scorer got a verdict back
        assert host_processes_with(ctx["marker_seconds"]) == []
    finally:
        sentinel.kill()
        sentinel.wait()
        listener.close()
        unix.close()
        for leftover in Path(sys.prefix).glob(f"escaped-{marker}*"):
            leftover.unlink() if leftover.is_file() else leftover.rmdir()


def test_exec_of_a_shell_is_not_a_pass(sandbox: Sandbox, tmp_path: Path) -> None:
    result = sandbox.run(RIGHT + "import os\nos.execv('/bin/sh', ['sh', '-c', 'exit 0'])\n", CHECKS)
    assert result.status == "failed" and result.returncode == 0  # exit status 0, still not a pass


def test_a_gigabyte_on_stderr_keeps_the_scorer_small(sandbox: Sandbox) -> None:
    """Bounded memory: the scorer reads 1 GiB and keeps ``max_output_kb``; its peak RSS (VmHWM of
    a fresh process: ru_maxrss would carry over pytest's from before exec) stays small."""
    script = textwrap.dedent("""
        import json, re
        from gazelm.sandbox import Sandbox
        program = "import sys\\nchunk = b'x' * (1 << 20)\\nfor _ in range(1024):\\n    sys.stderr.buffer.write(chunk)\\n"
        r = Sandbox(timeout=120.0, max_output_kb=64).run(program + "def f(x):\\n    return x + 1\\n", "assert f(1) == 2\\n")
        peak_kb = int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1))
        print(json.dumps([r.status, r.output_discarded, len(r.output), peak_kb]))
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    status, discarded, kept, peak_kb = json.loads(out.stdout.strip().splitlines()[-1])
    assert status == "passed"
    assert kept == 64 * 1024 and discarded + kept == 1 << 30
    assert peak_kb < 100 * 1024  # peak RSS of the scorer: it never held the gigabyte (> 1,000,000 kB)


def test_timeout_and_limits_still_apply(sandbox: Sandbox) -> None:
    assert Sandbox(timeout=1.0).run("while True:\n    pass\n").status == "timeout"
    assert Sandbox(memory_mb=256).run("x = bytearray(2 * 1024 ** 3)\n").status == "memory"
    big = Sandbox(file_mb=1).run("open('big', 'wb').write(b'x' * (2 << 20))\n")
    assert big.status == "failed"  # RLIMIT_FSIZE
