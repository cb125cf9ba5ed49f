"""Human visual attention: readers (one module per format), alignment, priors, pseudo-scanpaths, weights, providers.

Names are imported lazily (``from gazelm.gaze import read_fixations`` loads pandas only
then), so ``import gazelm.gaze.annotation`` stays cheap for the DataModule.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "TrialGaze": "align", "align_fixations": "align", "dwell_table": "align", "tokens_from_aoi": "align",
    "GazeAnnotation": "annotation", "GazeProvider": "annotation",
    "adjacency_expansion": "augment", "attention_motifs": "augment", "positional_order": "augment",
    "GazePriors": "priors", "LabelBeta": "priors", "fit_label_priors": "priors", "load_priors": "priors",
    "save_priors": "priors",
    "COLUMNS": "readers", "FORMATS": "readers", "read_fixations": "readers",
    "FixationFormat": "formats", "open_format": "formats", "register_format": "formats",
    "ReadCounts": "fixations", "ReadLog": "fixations",
    "attention_table": "studies", "study_trials": "studies",
    "PseudoScanpath": "simulate", "simulate_scanpath": "simulate",
    "VARIANTS": "weights", "row_weights": "weights", "token_weights": "weights",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'gazelm.gaze' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"gazelm.gaze.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
