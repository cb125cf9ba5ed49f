"""Study loaders: one module per eye-tracking study of an interface, registered by name.

A loader is ``load(path, **options) -> TrialSet``: every trial of the study with its split,
and the counts of what was read, kept and skipped (by reason). Bad files raise
:class:`gazelm.errors.GazelmInputError` naming the file, row and field.
"""
from __future__ import annotations

from typing import Any, Callable

from gazelm.interfaces.page import TrialSet
from gazelm.registry import Registry

#: Every public module of this package is imported on the first lookup (one module per study).
STUDIES: Registry[Callable[..., TrialSet]] = Registry("interface study", package=__name__)
register_study = STUDIES.register


def load_trials(name: str, **options: Any) -> TrialSet:
    """All trials of study ``name`` (``recgaze``, ``adserp``, or a plugin's)."""
    return STUDIES.get(name)(**options)
