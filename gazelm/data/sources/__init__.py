"""Task sources: one small module per corpus, each registered by name.

A source is a function ``load(task, split, **options) -> list[Example]``; configs name
it (``data.source.name``). Bad files raise :class:`gazelm.errors.GazelmInputError`
naming the file, line and field.

Registry metadata lets a config be checked before anything is loaded:
``tasks(**options) -> {task: (source_language, target_language)}`` (the tasks the source
provides and the languages of their texts, ``text`` for natural language) and optionally
``missing_files(task, **options) -> [message, ...]`` (inputs that are not there).
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

from gazelm.data.example import Example
from gazelm.registry import Registry

#: Every public module of this package is imported on the first lookup (one module per source).
SOURCES: Registry[Callable[..., list[Example]]] = Registry("task source", package=__name__)
register_source = SOURCES.register


def source_tasks(name: str, **options: Any) -> dict[str, tuple[str, str]]:
    """``{task: (source_language, target_language)}`` of source ``name`` with these options."""
    return dict(SOURCES.meta(name)["tasks"](**options))


def missing_source_files(name: str, task: str, **options: Any) -> list[str]:
    """Messages for the inputs source ``name`` would read for ``task`` and cannot find."""
    check = SOURCES.meta(name).get("missing_files")
    return list(check(task, **options)) if check else []


def load_examples(name: str, task: str, split: str, **options: Any) -> list[Example]:
    """Examples of ``task`` in ``split`` ("train", "val", "test") from source ``name``.

    ``run_cache_dir``: the run's cache directory, given to a loader that has a ``cache_dir``
    parameter (one that caches what it builds) unless ``options`` set ``cache_dir``."""
    load = SOURCES.get(name)
    run_cache_dir = options.pop("run_cache_dir", None)
    if run_cache_dir and "cache_dir" not in options and "cache_dir" in inspect.signature(load).parameters:
        options["cache_dir"] = run_cache_dir
    return load(task=task, split=split, **options)
