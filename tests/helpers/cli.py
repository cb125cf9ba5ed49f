"""Run the ``gazelm`` command as a user would: in this process where the command allows it, else in a
subprocess (a fresh interpreter: DDP, start-up behaviour, environment variables read at import).

The argparse commands (``gazelm gaze``, ``gazelm report``, ``gazelm align score``) run in-process
with :func:`gazelm`. The Hydra apps (``train``, ``eval``, ``align``, ``export``) do not: a Hydra app
reconfigures logging, which closes every handler created so far, and absl's (imported by
rouge-score) then closes the stream it was created with, pytest's capture of an earlier test. Tests
compose their config and call the app's function (``gazelm.training.train``,
``gazelm.cli.align.run``) in-process, or run them with :func:`gazelm_subprocess`.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Mapping

import pytest

ROOT = Path(__file__).resolve().parents[2]
IN_PROCESS = ("gaze", "report")


def gazelm(capsys: pytest.CaptureFixture, *args: str) -> subprocess.CompletedProcess:
    """``gazelm ARGS`` in this process (``gazelm.cli.main``): exit status, stdout and stderr."""
    from gazelm.cli.main import main

    assert args[0] in IN_PROCESS or args[:2] == ("align", "score"), f"gazelm {args[0]} is a Hydra app (module docstring)"

    argv = sys.argv
    capsys.readouterr()
    try:
        status = main(list(args))
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        sys.argv = argv
    out = capsys.readouterr()
    return subprocess.CompletedProcess(["gazelm", *args], status, out.out, out.err)


def checkout_env(*paths: str | Path, **variables: str) -> dict[str, str]:
    """This environment with ``paths`` and this checkout on ``PYTHONPATH``, ``CI=true`` (plain progress
    lines), one thread per process, and ``variables``."""
    python_path = os.pathsep.join([*map(str, paths), str(ROOT)])
    return {**os.environ, "PYTHONPATH": python_path, "CI": "true", "OMP_NUM_THREADS": "1", **variables}


def gazelm_subprocess(*args: str, cwd: Path = ROOT, env: Mapping[str, str] | None = None,
                      timeout: float = 600) -> subprocess.CompletedProcess:
    """``gazelm ARGS`` in a fresh interpreter (``env``: default :func:`checkout_env`)."""
    return subprocess.run([sys.executable, "-m", "gazelm.cli.main", *args], cwd=cwd,
                          env=dict(env) if env is not None else checkout_env(), capture_output=True, text=True,
                          timeout=timeout)
