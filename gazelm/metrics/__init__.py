"""Text, code and execution metrics behind one registry.

``score(names, predictions, references, **options) -> {name: value, "name/part": value}``
is the entry point; ``compute`` keeps per-example values (for significance tests).
Alignment metrics (human vs model attention) live in :mod:`gazelm.metrics.alignment`.
"""
from __future__ import annotations

from gazelm.metrics.registry import (
    METRICS,
    MetricResult,
    compute,
    headline_metric_names,
    higher_is_better,
    metric_applies,
    metric_languages,
    metric_names,
    metric_scale,
    reference_kind,
    register_metric,
    score,
)

__all__ = ["METRICS", "MetricResult", "compute", "headline_metric_names", "higher_is_better", "metric_applies",
           "metric_languages", "metric_names", "metric_scale", "reference_kind", "register_metric", "score"]
