"""Task sources: one small module per corpus, each registered by name.

A source is a function ``load(task, split, **options) -> list[Example]``; configs name
it (``data.source.name``). Bad files raise :class:`gazelm.errors.GazelmInputError`
naming the file, line and field.
"""
from __future__ import annotations

import importlib
from typing import Any, Callable

from gazelm.data.example import Example
from gazelm.registry import Registry

SOURCES: Registry[Callable[..., list[Example]]] = Registry("task source")
register_source = SOURCES.register

_MODULES = ("python_stdlib", "codexglue_java_cs", "eyemulator_jsonl", "humaneval", "mbpp")


def load_examples(name: str, task: str, split: str, **options: Any) -> list[Example]:
    """Examples of ``task`` in ``split`` ("train", "val", "test") from source ``name``."""
    for module in _MODULES:
        importlib.import_module(f"gazelm.data.sources.{module}")
    return SOURCES.get(name)(task=task, split=split, **options)
