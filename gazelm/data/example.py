"""The one record every task source yields."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TASKS = ("translation", "completion", "summarization", "generation", "choice")


@dataclass(frozen=True)
class Example:
    """One task example.

    ``source`` is what the model reads (code, or a natural-language prompt for
    generation); ``target`` what it must produce. Languages use tree-sitter names
    (``java``, ``python``, ``c_sharp``) or ``text`` for natural language.
    """

    id: str
    task: str
    source: str
    target: str
    source_language: str
    target_language: str
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
