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
    """Examples of ``task`` in ``split`` ("train", "val", "test") from source ``name``."""
    return SOURCES.get(name)(task=task, split=split, **options)


def source_takes(name: str, option: str) -> bool:
    """Whether source ``name``'s loader has a parameter ``option``. A loader with a ``cache_dir``
    parameter gets the run's cache directory from the DataModule unless its config sets one."""
    return option in inspect.signature(SOURCES.get(name)).parameters
