"""FixATE's tables from per-trial records: the 4-way table, baselines, per-participant tests.

``records``: rows as ``FixateEvaluator`` writes them (``{"id", "user", "scores": {...}}``).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd

from gazelm.metrics.fixate import HIGHER_IS_BETTER
from gazelm.report.participants import participant_tests
from gazelm.report.write import markdown_table

ATTENTION = ("kl", "js", "cosine", "topk_js")
ANSWER = ("logloss", "auc", "acc", "acc_correct")
BASELINES = ("uniform", "length", "class_mean")


def _fmt(x: float) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4f}"


def _metric_order(metrics: dict[str, float], prefix: str) -> list[str]:
    rest = sorted({k[len(prefix):] for k in metrics if k.startswith(prefix)})
    head = [m for m in ATTENTION if m in rest]
    ks = sorted((m for m in rest if "@" in m), key=lambda m: (m.split("@")[0], int(m.split("@")[1])))
    return head + ks


def four_way_table(metrics: dict[str, float], conditions: Sequence[str]) -> pd.DataFrame:
    """Rows: metrics; columns: ``<condition> TF`` / ``<condition> gen`` (answer metrics are the same
    in both modes; accuracy is shown with generation, as FixATE does)."""
    rows = []
    for m in _metric_order(metrics, f"{conditions[-1]}_tf_"):
        row = {"metric": m, "better": "↑" if HIGHER_IS_BETTER.get(m.split("@")[0]) else "↓"}
        for c in conditions:
            for mode, label in (("tf", "TF"), ("gen", "gen")):
                row[f"{c} {label}"] = _fmt(metrics.get(f"{c}_{mode}_{m}", math.nan))
        rows.append(row)
    for m in ANSWER:
        row = {"metric": m, "better": "↑" if HIGHER_IS_BETTER[m] else "↓"}
        for c in conditions:
            value = _fmt(metrics.get(f"{c}_{m}", math.nan))
            row[f"{c} TF"] = value if m != "acc" else "—"
            row[f"{c} gen"] = value
        rows.append(row)
    return pd.DataFrame(rows)


def baseline_table(metrics: dict[str, float], reference: str = "fixate_tf") -> pd.DataFrame:
    rows = []
    for m in _metric_order(metrics, f"{reference}_"):
        row = {"metric": m}
        for b in BASELINES:
            row[b] = _fmt(metrics.get(f"{b}_{m}", math.nan))
        row[reference.replace("_", " ")] = _fmt(metrics.get(f"{reference}_{m}", math.nan))
        rows.append(row)
    return pd.DataFrame(rows)


def summary_markdown(records: list[dict[str, Any]], metrics: dict[str, float],
                     conditions: Sequence[str]) -> tuple[str, dict[str, pd.DataFrame]]:
    """The Markdown summary and its tables (``four_way``, ``baselines``, ``participants``)."""
    conditions = [c for c in ("backbone", "population", "fixate") if c in conditions]
    tables = {"four_way": four_way_table(metrics, conditions), "baselines": baseline_table(metrics)}
    baselines = [c for c in conditions if c != "fixate"]
    tests = participant_tests(records, "fixate", baselines) if "fixate" in conditions and baselines else pd.DataFrame()
    tables["participants"] = tests
    n = int(metrics.get("n_trials", len(records)))
    text = [f"# FixATE: {n} trials, {int(metrics.get('n_users', 0))} participants, "
            f"{int(metrics.get('n_answered', 0))} with an answer", "",
            "Micro-averages over trials (attention metrics in FixATE's conventions: KL/JS in nats). "
            "TF: relevance explains the participant's letter; gen: the model's own letter.", "",
            markdown_table(tables["four_way"]), "", "Baselines (no model) against FixATE (TF):", "",
            markdown_table(tables["baselines"])]
    if len(tests):
        shown = tests.copy()
        for col in ("mean_treatment", "mean_baseline", "delta"):
            shown[col] = shown[col].map(lambda x: f"{x:.4f}")
        shown["p_wilcoxon"] = shown["p_wilcoxon"].map(lambda x: "nan" if np.isnan(x) else f"{x:.3g}")
        text += ["", "Per-participant paired Wilcoxon signed-rank tests (participant means; two-sided):", "",
                 markdown_table(shown)]
    return "\n".join(text) + "\n", tables
