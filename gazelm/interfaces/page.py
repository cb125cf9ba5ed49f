"""Interface pages with slots, and trials of people looking at them.

A *page* is what a vision-language model is shown: an image of a given size with *slots*,
rectangles in the image's pixel coordinates (``x1, y1, x2, y2``, the right and bottom edges
exclusive), each labelled with the letter the prompt refers to. A *trial* is one person on one
page: their dwell per slot (fixations, and cursor dwell where recorded), the slot they chose,
and the text the prompt is made of. Study loaders (:mod:`gazelm.interfaces.sources`) turn each
study's files into trials; :mod:`gazelm.interfaces.render` draws the pages.

Every loader accounts for what it read: ``TrialSet.counts`` holds the number of sessions read,
kept, and skipped by reason, and the fixations that fell on a slot, elsewhere on the page, or
outside the page — so nothing is dropped silently.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Slot:
    """One area of interest: its ``box`` on the page image, its ``letter``, what it shows."""

    box: Box
    letter: str
    kind: str = "item"
    key: str = ""
    text: dict[str, str] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Page:
    """What the model sees. ``render`` says how to draw it (``{"kind": "carousel" | "serp", ...}``,
    interpreted by :func:`gazelm.interfaces.render.render_page`); ``size`` is ``(width, height)``."""

    size: tuple[int, int]
    slots: tuple[Slot, ...]
    render: dict[str, Any] = field(compare=False, hash=False, default_factory=dict)

    @property
    def boxes(self) -> list[Box]:
        return [s.box for s in self.slots]


@dataclass
class VisualTrial:
    """One person's session on one page.

    ``stimulus`` identifies the content (a content-disjoint split keeps each stimulus in one
    split); ``dwell_ms`` / ``cursor_ms`` are per slot; ``choice`` is the chosen slot's index
    (``None``: no answer); ``fields`` are the prompt's template fields (profile, query, …).
    """

    id: str
    user: str
    stimulus: str
    page: Page
    dwell_ms: list[float]
    choice: int | None
    fields: dict[str, str] = field(default_factory=dict)
    cursor_ms: list[float] | None = None
    split: str = "train"
    info: dict[str, Any] = field(default_factory=dict)

    def target(self, signal: str = "fixation") -> list[float]:
        """Dwell per slot of ``signal`` (``fixation`` or ``cursor``)."""
        if signal == "fixation":
            return list(self.dwell_ms)
        if signal == "cursor":
            if self.cursor_ms is None:
                raise ValueError(f"trial {self.id}: no cursor dwell recorded")
            return list(self.cursor_ms)
        raise ValueError(f"unknown gaze signal {signal!r}; expected fixation or cursor")


@dataclass
class TrialSet:
    """The trials of a study and what reading it counted (``counts``: name → number)."""

    trials: list[VisualTrial]
    counts: Counter = field(default_factory=Counter)

    def split(self, name: str) -> list[VisualTrial]:
        return [t for t in self.trials if t.split == name]

    def split_sizes(self) -> dict[str, int]:
        return dict(Counter(t.split for t in self.trials))
