"""Task sources: one small module per corpus, each registered by name.

A source is a function ``load(task, split, **options) -> list[Example]``; configs name
it (``data.source.name``). Bad files raise :class:`gazelm.errors.GazelmInputError`
naming the file, line and field.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

from gazelm.data.example import Example
from gazelm.registry import Registry

#: Every public module of this package is imported on the first lookup (one module per source).
SOURCES: Registry[Callable[..., list[Example]]] = Registry("task source", package=__name__)
register_source = SOURCES.register


def load_examples(name: str, task: str, split: str, **options: Any) -> list[Example]:
    """Examples of ``task`` in ``split`` ("train", "val", "test") from source ``name``.

    ``run_cache_dir``: the run's cache directory, given to a loader that has a ``cache_dir``
    parameter (one that caches what it builds) unless ``options`` set ``cache_dir``."""
    load = SOURCES.get(name)
    run_cache_dir = options.pop("run_cache_dir", None)
    if run_cache_dir and "cache_dir" not in options and "cache_dir" in inspect.signature(load).parameters:
        options["cache_dir"] = run_cache_dir
    return load(task=task, split=split, **options)
