"""Visual interfaces for FixATE: pages with slots, people's gaze and choices on them.

- :mod:`gazelm.interfaces.page`: :class:`Page`, :class:`Slot`, :class:`VisualTrial`, :class:`TrialSet`;
- :mod:`gazelm.interfaces.sources`: study loaders by name (``recgaze``, ``adserp``);
- :mod:`gazelm.interfaces.carousel`: RecGaze's carousel geometry and its 3×5 page;
- :mod:`gazelm.interfaces.render`: Pillow rendering of pages, cached on disk;
- :mod:`gazelm.interfaces.splits`: content-disjoint and per-user splits (FixATE's).
"""
from gazelm.interfaces.page import Page, Slot, TrialSet, VisualTrial

__all__ = ["Page", "Slot", "TrialSet", "VisualTrial"]
