"""W&B side of reports: read a project's finished runs as jobs, log the report as W&B Tables.

Both are no-ops unless W&B is on: ``WANDB_MODE`` is not ``disabled`` and a project is given.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from gazelm.report.collect import Job
from gazelm.report.table import Report


def wandb_enabled(project: str | None) -> bool:
    """True when a project is given and ``WANDB_MODE`` is not ``disabled``."""
    return bool(project) and os.environ.get("WANDB_MODE", "").lower() != "disabled"


def _flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = str(value)
    return out


def load_wandb_runs(project: str, entity: str | None = None, api: Any = None) -> list[Job]:
    """Finished runs of ``entity/project`` as jobs: flattened config → overrides, numeric summary → metrics.

    W&B runs carry no per-example scores, so only seed-level tests apply to them.
    """
    if api is None:
        import wandb

        api = wandb.Api()
    path = f"{entity}/{project}" if entity else project
    jobs = []
    for run in api.runs(path):
        if getattr(run, "state", "finished") != "finished":
            continue
        metrics = {k: float(v) for k, v in dict(run.summary).items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool) and not k.startswith("_")}
        jobs.append(Job(Path(f"wandb:{path}/{run.id}"), _flatten(dict(run.config)), metrics))
    return jobs


def log_report_tables(report: Report, project: str, entity: str | None = None,
                      run_name: str | None = None) -> bool:
    """Log ``table``, ``summary`` and ``comparison`` as W&B Tables in a ``report`` job; False when W&B is off."""
    if not wandb_enabled(project):
        return False
    import wandb

    run = wandb.init(project=project, entity=entity, name=run_name, job_type="report", reinit=True)
    try:
        run.log({"report/table": wandb.Table(dataframe=report.table),
                 "report/summary": wandb.Table(dataframe=report.summary),
                 "report/comparison": wandb.Table(dataframe=report.comparison.astype(object))})
    finally:
        run.finish()
    return True
