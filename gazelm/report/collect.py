"""Read a Hydra multirun directory written by ``gazelm train -m`` or ``gazelm align -m``.

Job layout (one folder per job number)::

    <sweep dir>/jobs.json                           the job list (gazelm train; see gazelm.sweep)
    <sweep dir>/<job num>/
      .hydra/config.yaml, .hydra/overrides.yaml
      status.json                                   running | ok | failed (+ its first error line)
      metrics.json                                  flat {"val/loss": .., "test/bleu_sacre": ..}
      predictions/<split>_step<global_step>.jsonl   {"id", "prediction", "reference", "scores": {..}}
      summary.csv                                   gazelm align: method, model, k, precision, recall, f1, ...

Per-example scores come from the latest step of each split and are keyed like the
metrics (``"<split>/<metric>"``), so ``test/bleu_sacre`` in metrics.json pairs with
``scores["bleu_sacre"]`` in ``predictions/test_step<N>.jsonl``. An align job becomes one
row per (method, model, k) of its ``summary.csv``, with those three as extra overrides.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gazelm.errors import GazelmInputError
from gazelm.jsonl import iter_jsonl

_PRED_FILE = re.compile(r"^(?P<split>.+)_step(?P<step>\d+)\.jsonl$")
#: What a finished job leaves: ``gazelm train`` its metrics, ``gazelm align`` its summary table.
DONE_FILES = ("metrics.json", "summary.csv")
ALIGN_KEYS = ("method", "model", "k")
ALIGN_METRICS = ("precision", "recall", "f1", "krippendorff_alpha")


@dataclass
class Job:
    """One finished job of a sweep."""

    path: Path
    overrides: dict[str, str]
    metrics: dict[str, float]
    per_example: dict[str, dict[str, float]] = field(default_factory=dict)  # "test/bleu" -> {id: score}
    example_users: dict[str, dict[str, str]] = field(default_factory=dict)  # "test" -> {id: user} (rows with "user")


def parse_overrides(items: list[Any]) -> dict[str, str]:
    """``["objective=ce", "+seed=1", "~x"]`` → ``{"objective": "ce", "seed": "1"}`` (deletions dropped)."""
    out: dict[str, str] = {}
    for item in items:
        text = str(item)
        if text.startswith("~") or "=" not in text:
            continue
        key, value = text.split("=", 1)
        out[key.lstrip("+")] = value
    return out


def _read_overrides(job_dir: Path) -> dict[str, str]:
    path = job_dir / ".hydra" / "overrides.yaml"
    if not path.exists():
        raise GazelmInputError("missing Hydra overrides file", path=path)
    try:
        items = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except yaml.YAMLError as err:
        raise GazelmInputError(f"not valid YAML: {err}", path=path) from None
    if not isinstance(items, list):
        raise GazelmInputError("expected a YAML list of overrides", path=path)
    return parse_overrides(items)


def _read_metrics(job_dir: Path) -> dict[str, float]:
    path = job_dir / "metrics.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise GazelmInputError(f"not valid JSON: {err.msg}", path=path, row=err.lineno) from None
    if not isinstance(data, dict):
        raise GazelmInputError("expected a flat JSON object metric -> number", path=path)
    out = {}
    for key, value in data.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise GazelmInputError(f"metric value is not a number: {value!r}", path=path, field=key)
        out[str(key)] = float(value)
    return out


def _read_predictions(job_dir: Path, users: dict[str, dict[str, str]] | None = None) -> dict[str, dict[str, float]]:
    """Per-example scores from the latest ``<split>_step<N>.jsonl`` of each split (and, into ``users``,
    the person behind each example where rows carry ``"user"``)."""
    folder = job_dir / "predictions"
    if not folder.is_dir():
        return {}
    latest: dict[str, tuple[int, Path]] = {}
    for path in folder.iterdir():
        match = _PRED_FILE.match(path.name)
        if match:
            split, step = match["split"], int(match["step"])
            if split not in latest or step > latest[split][0]:
                latest[split] = (step, path)
    out: dict[str, dict[str, float]] = {}
    for split, (_, path) in sorted(latest.items()):
        for row_no, row in iter_jsonl(path):
            if "id" not in row:
                raise GazelmInputError("row has no id", path=path, row=row_no, field="id")
            if users is not None and row.get("user") is not None:
                users.setdefault(split, {})[str(row["id"])] = str(row["user"])
            scores = row.get("scores") or {}
            if not isinstance(scores, dict):
                raise GazelmInputError("scores must be an object", path=path, row=row_no, field="scores")
            for metric, value in scores.items():
                if value is None or (isinstance(value, float) and math.isnan(value)):
                    continue
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise GazelmInputError(f"score is not a number: {value!r}", path=path, row=row_no,
                                           field=f"scores.{metric}")
                out.setdefault(f"{split}/{metric}", {})[str(row["id"])] = float(value)
    return out


def _align_jobs(job_dir: Path) -> list[Job]:
    """One job per row of an align job's ``summary.csv``: overrides + method/model/k → P, R, F1, α."""
    import pandas as pd

    path = job_dir / "summary.csv"
    try:
        table = pd.read_csv(path, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise GazelmInputError(f"not a readable CSV: {err}", path=path) from None
    missing = [c for c in (*ALIGN_KEYS, *ALIGN_METRICS) if c not in table.columns]
    if missing:
        raise GazelmInputError(f"missing column(s) {', '.join(missing)}", path=path)
    overrides = _read_overrides(job_dir)
    jobs = []
    for row_no, row in enumerate(table.to_dict("records"), start=2):
        metrics = {}
        for name in ALIGN_METRICS:
            try:
                metrics[name] = float(row[name])
            except (TypeError, ValueError):
                raise GazelmInputError(f"not a number: {row[name]!r}", path=path, row=row_no, field=name) from None
        jobs.append(Job(job_dir, {**overrides, **{k: str(row[k]) for k in ALIGN_KEYS}}, metrics))
    return jobs


def load_multirun(sweep_dir: str | Path) -> list[Job]:
    """All finished jobs under ``sweep_dir`` (folders with ``metrics.json``, or an align job's
    ``summary.csv``), in job-number order. Failed and missing jobs: :func:`gazelm.sweep.job_states`."""
    root = Path(sweep_dir)
    if not root.is_dir():
        raise GazelmInputError("multirun directory not found", path=root)
    job_dirs = [p for p in root.iterdir()  # job folders hold .hydra/ (a report/ folder does not)
                if p.is_dir() and (p / ".hydra").is_dir() and any((p / f).exists() for f in DONE_FILES)]
    job_dirs.sort(key=lambda p: (0, int(p.name)) if p.name.isdigit() else (1, p.name))
    if not job_dirs:
        raise GazelmInputError("no finished jobs (no <job>/metrics.json or <job>/summary.csv) in this directory",
                               path=root)
    jobs: list[Job] = []
    for p in job_dirs:
        if (p / "metrics.json").exists():
            users: dict[str, dict[str, str]] = {}
            jobs.append(Job(p, _read_overrides(p), _read_metrics(p), _read_predictions(p, users), users))
        else:
            jobs.extend(_align_jobs(p))
    return jobs
