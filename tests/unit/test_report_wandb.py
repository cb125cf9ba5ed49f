"""W&B side of reports: off unless a project is given and WANDB_MODE is not disabled; runs → jobs."""
from __future__ import annotations

from types import SimpleNamespace

from gazelm.report import build_report
from gazelm.report.wandb_io import load_wandb_runs, log_report_tables, wandb_enabled


class FakeApi:
    def __init__(self, runs):
        self._runs = runs
        self.asked = None

    def runs(self, path):
        self.asked = path
        return self._runs


def _run(run_id, objective, seed, value, state="finished"):
    return SimpleNamespace(id=run_id, state=state, config={"objective": {"name": objective}, "seed": seed},
                           summary={"test/chrf": value, "_step": 10, "note": "x"})


def test_wandb_enabled_follows_mode_and_project(monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert not wandb_enabled("proj")
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert wandb_enabled("proj") and not wandb_enabled(None)


def test_load_wandb_runs_flattens_config_and_keeps_finished_runs():
    api = FakeApi([_run("a", "ce", 0, 40.0), _run("b", "dft", 0, 44.0), _run("c", "dft", 1, 1.0, "crashed"),
                   _run("d", "ce", 1, 42.0), _run("e", "dft", 1, 45.0)])
    jobs = load_wandb_runs("proj", "team", api=api)
    assert api.asked == "team/proj" and len(jobs) == 4
    assert jobs[0].overrides == {"objective.name": "ce", "seed": "0"} and jobs[0].metrics == {"test/chrf": 40.0}
    rep = build_report(jobs, baseline={"objective.name": "ce"})
    row = rep.comparison.iloc[0]
    assert row["delta"] == 3.5 and row["n_seeds"] == 2


def test_log_report_tables_is_a_no_op_when_disabled(monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert log_report_tables(SimpleNamespace(), "proj") is False
