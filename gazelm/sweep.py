"""The jobs of a multirun: what they are before it starts, how each ended after.

Before the first job, :func:`sweep_job_overrides` expands the sweep exactly as Hydra's basic
sweeper will (its ``params`` plus the command line), :func:`preflight_problems` composes and
checks every job's config, and :func:`write_jobs_file` records the job list in
``<sweep dir>/jobs.json``. Each job writes ``<job dir>/status.json`` when it starts and ends
(``running`` → ``ok`` | ``failed`` with its first error line; the traceback in ``error.txt``).
:func:`job_states` reads both back, so the end-of-sweep table and ``gazelm report`` list
every job: ``ok``, ``failed``, or ``missing`` (never started, or killed while running).
"""
from __future__ import annotations

import json
import shlex
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from omegaconf import DictConfig, OmegaConf

JOBS_FILE = "jobs.json"
STATUS_FILE = "status.json"
ERROR_FILE = "error.txt"
BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"
SLURM_LAUNCHER = "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"


def override_key(override: str) -> str:
    """``"+ablation=ce"`` → ``"+ablation"``; the key as written (with ``+``/``~``)."""
    return override.split("=", 1)[0]


def sweep_job_overrides(config: DictConfig) -> list[list[str]] | None:
    """Every job's overrides, in job-number order, as the basic sweeper launches them; ``None``
    for sweepers that choose their jobs as they go (Optuna)."""
    if config.hydra.sweeper.get("_target_") != BASIC_SWEEPER:
        return None
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser

    params = config.hydra.sweeper.get("params") or {}
    lines = [f"{k}={v}" for k, v in params.items()] + list(config.hydra.overrides.task)
    parser = OverridesParser.create(config_loader=GlobalHydra.instance().config_loader())
    return BasicSweeper.split_arguments(parser.parse_overrides(lines), None)[0]


def varying_override_keys(jobs: Sequence[Sequence[str]]) -> list[str]:
    """Override keys whose value differs between jobs, in order (``hydra.*`` left out)."""
    values: dict[str, set[str]] = {}
    for overrides in jobs:
        for item in overrides:
            values.setdefault(override_key(item), set()).add(item)
    return [k for k, v in values.items() if not k.startswith("hydra.")
            and (len(v) > 1 or any(k not in map(override_key, job) for job in jobs))]


def varying(overrides: Sequence[str], keys: Sequence[str]) -> list[str]:
    return [o for o in overrides if override_key(o) in keys]


# -- preflight ----------------------------------------------------------------------------
def preflight_problems(config: DictConfig, jobs: Sequence[Sequence[str]],
                       seed_key: str = "seed") -> dict[str, list[int]]:
    """Compose each job's config as the launcher will and check it: problem → job numbers.

    Jobs that differ only in the seed are composed and checked once (no check depends on it).
    """
    from hydra.core.global_hydra import GlobalHydra

    from gazelm.preflight import config_problems

    loader = GlobalHydra.instance().config_loader()
    found: dict[str, list[int]] = {}
    checked: dict[tuple[str, ...], list[str]] = {}
    for num, overrides in enumerate(jobs):
        key = tuple(o for o in overrides if override_key(o).lstrip("+") != seed_key)
        if key not in checked:
            try:
                checked[key] = config_problems(loader.load_sweep_config(config, list(overrides)))
            except Exception as err:  # noqa: BLE001 - a job that does not compose is a problem to list
                checked[key] = [f"config does not compose: {str(err).strip().splitlines()[0]}"]
        for problem in checked[key]:
            found.setdefault(problem, []).append(num)
    return found


def format_problems(found: dict[str, list[int]], jobs: Sequence[Sequence[str]]) -> str:
    keys = varying_override_keys(jobs)
    bad = sorted({n for nums in found.values() for n in nums})
    lines = [f"gazelm train: the sweep cannot run: {len(bad)} of {len(jobs)} jobs have problems; "
             "no job was started."]
    for problem, nums in found.items():
        if len(nums) == len(jobs):
            where = "every job"
        elif len(nums) == 1:
            where = f"job {nums[0]} ({' '.join(varying(jobs[nums[0]], keys))})"
        else:
            where = "jobs " + ", ".join(map(str, nums))
        lines.append(f"  - {where}: {problem}")
    return "\n".join(lines)


# -- the job list, status files, job states -------------------------------------------------
def write_jobs_file(sweep_dir: str | Path, jobs: Sequence[Sequence[str]]) -> Path:
    path = Path(sweep_dir) / JOBS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"varying": varying_override_keys(jobs),
                                "jobs": [{"num": i, "overrides": list(o)} for i, o in enumerate(jobs)]},
                               indent=1), encoding="utf-8")
    return path


def read_jobs_file(sweep_dir: str | Path) -> dict[str, Any] | None:
    path = Path(sweep_dir) / JOBS_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) and isinstance(data.get("jobs"), list) else None


def first_error_line(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0]}" if text else type(err).__name__


def write_status(job_dir: str | Path, num: int, overrides: Sequence[str], status: str,
                 error: BaseException | None = None) -> None:
    """``<job dir>/status.json`` (and ``error.txt`` with the traceback of a failed job)."""
    job_dir = Path(job_dir)
    job_dir.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {"num": num, "status": status, "overrides": list(overrides)}
    if error is not None:
        record["error"] = first_error_line(error)
        (job_dir / ERROR_FILE).write_text("".join(traceback.format_exception(error)), encoding="utf-8")
    (job_dir / STATUS_FILE).write_text(json.dumps(record, indent=1), encoding="utf-8")


@dataclass
class JobState:
    """How one job of a sweep ended: ``ok``, ``failed`` or ``missing``."""

    num: int | str
    status: str
    overrides: list[str] = field(default_factory=list)
    path: Path | None = None
    error: str = ""


def _read_status(job_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((job_dir / STATUS_FILE).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, json.JSONDecodeError):
        return {}


def _state(num: int | str, job_dir: Path, overrides: list[str], done_files: Sequence[str]) -> JobState:
    if not job_dir.is_dir():
        return JobState(num, "missing", overrides, None, "never started (no job directory)")
    status = _read_status(job_dir)
    if status.get("status") == "failed":
        return JobState(num, "failed", overrides, job_dir, str(status.get("error", "")))
    if any((job_dir / f).is_file() for f in done_files):
        return JobState(num, "ok", overrides, job_dir)
    if status.get("status") == "running":
        return JobState(num, "missing", overrides, job_dir, "started but never finished (killed, or still running)")
    return JobState(num, "missing", overrides, job_dir, f"no {' or '.join(done_files)}")


def job_states(sweep_dir: str | Path, done_files: Sequence[str] = ("metrics.json", "summary.csv")) -> list[JobState]:
    """Every job of a sweep: from ``jobs.json`` when the sweep wrote one, else its job folders.
    A job is ``ok`` once it left one of ``done_files`` (train: metrics.json, align: summary.csv)."""
    root = Path(sweep_dir)
    recorded = read_jobs_file(root)
    if recorded is not None:
        return [_state(job["num"], root / str(job["num"]), list(job.get("overrides", [])), done_files)
                for job in recorded["jobs"]]
    dirs = [p for p in root.iterdir() if p.is_dir() and (p / ".hydra").is_dir()] if root.is_dir() else []
    dirs.sort(key=lambda p: (0, int(p.name)) if p.name.isdigit() else (1, p.name))
    return [_state(p.name, p, _hydra_overrides(p), done_files) for p in dirs]


def _hydra_overrides(job_dir: Path) -> list[str]:
    import yaml

    try:
        items = yaml.safe_load((job_dir / ".hydra" / "overrides.yaml").read_text(encoding="utf-8")) or []
    except (OSError, yaml.YAMLError):
        return []
    return [str(i) for i in items] if isinstance(items, list) else []


def print_job_table(states: Sequence[JobState], header: str) -> None:
    """``header`` then a table: job, status, the overrides that vary, the first error line, the directory."""
    from rich.markup import escape
    from rich.table import Table

    keys = varying_override_keys([s.overrides for s in states]) if len(states) > 1 else []
    table = Table()
    for column in ("job", "status", "overrides", "error / directory"):
        table.add_column(column, overflow="fold")
    styles = {"ok": "green", "failed": "bold red", "missing": "yellow"}
    for s in states:
        where = f"{s.error}\n{s.path}" if s.error and s.path else (s.error or str(s.path or ""))
        table.add_row(str(s.num), f"[{styles.get(s.status, '')}]{s.status}[/]",
                      escape(" ".join(varying(s.overrides, keys) if keys else s.overrides)), escape(where))
    print(header, flush=True)
    console().print(table)


def summary_line(states: Sequence[JobState]) -> str:
    counts = {k: sum(s.status == k for s in states) for k in ("ok", "failed", "missing")}
    return f"{len(states)} jobs: " + ", ".join(f"{n} {k}" for k, n in counts.items() if n or k == "ok")


def console():
    """A rich console: the terminal's width on one; off one (logs, CI) plain and 160 columns wide."""
    import os

    from rich.console import Console

    tty = sys.stdout.isatty() and not os.environ.get("CI")
    return Console(force_terminal=None if tty else False, width=None if tty else 160)


# -- dry run --------------------------------------------------------------------------------
def print_dry_run(jobs: Sequence[Sequence[str]]) -> None:
    """The job table of a dry run: job number and the overrides that vary (those shared listed once)."""
    from rich.markup import escape
    from rich.table import Table

    jobs = [[o for o in job if override_key(o).lstrip("+") != "dry_run"] for job in jobs]
    keys = varying_override_keys(jobs) if len(jobs) > 1 else []
    common = [o for o in jobs[0] if override_key(o) not in keys and not o.startswith("hydra.")] if keys else []
    print(f"gazelm: {len(jobs)} job(s); every config checked; dry run, nothing started")
    if common:
        print(f"every job: {' '.join(common)}")
    table = Table()
    table.add_column("job", justify="right")
    table.add_column("overrides that vary" if keys else "overrides")
    for num, overrides in enumerate(jobs):
        table.add_row(str(num), escape(" ".join(varying(overrides, keys) if keys else overrides)))
    console().print(table)


def slurm_submission(launcher: dict[str, Any], n_jobs: int) -> str:
    """The sbatch script hydra-submitit-launcher would submit for ``n_jobs`` jobs (one array job),
    built with submitit's own writer, without needing SLURM."""
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
    from submitit.slurm.slurm import SlurmExecutor, _convert_mem, _make_sbatch_string

    generic = set(OmegaConf.structured(BaseQueueConf).keys())
    names = SlurmExecutor._equivalence_dict()
    folder = str(launcher.get("submitit_folder", ".submitit/%j"))
    params = {(names.get(k, k) if k in generic else k): v for k, v in launcher.items()
              if k not in ("_target_", "submitit_folder", "max_num_timeout") and v is not None}
    if "mem" in params:
        params["mem"] = _convert_mem(params["mem"])
    if n_jobs > 1:
        params["map_count"] = n_jobs
    command = " ".join([shlex.quote(sys.executable), "-u -m submitit.core._submit", shlex.quote(folder)])
    return _make_sbatch_string(command=command, folder=folder, **params)
