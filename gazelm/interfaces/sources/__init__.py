"""Study loaders: one module per eye-tracking study of an interface, registered by name.

A loader is ``load(path, **options) -> TrialSet``: every trial of the study with its split,
and the counts of what was read, kept and skipped (by reason). Bad files raise
:class:`gazelm.errors.GazelmInputError` naming the file, row and field. A study registers
``missing_files(**options) -> [message, ...]`` (the inputs it would read and cannot find), so a
run is refused before anything is built (:func:`missing_study_files`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from gazelm.interfaces.page import TrialSet
from gazelm.registry import Registry

#: Every public module of this package is imported on the first lookup (one module per study).
STUDIES: Registry[Callable[..., TrialSet]] = Registry("interface study", package=__name__)
register_study = STUDIES.register


def load_trials(name: str, **options: Any) -> TrialSet:
    """All trials of study ``name`` (``recgaze``, ``adserp``, or a plugin's)."""
    return STUDIES.get(name)(**options)


def missing_study_files(name: str, **options: Any) -> list[str]:
    """Messages for the inputs study ``name`` would read with these options and cannot find."""
    check = STUDIES.meta(name).get("missing_files")
    return list(check(**options)) if check else []


def missing_paths(where: str, *paths: Path) -> list[str]:
    """``[message]`` naming every path of ``paths`` that does not exist (a study's ``missing_files``)."""
    missing = [str(p) for p in paths if not p.exists()]
    return [f"{where}: not found: {', '.join(missing)} (set data.source.path)"] if missing else []
