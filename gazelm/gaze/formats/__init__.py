"""Eye-tracking file formats: one module each, found by the ``FORMATS`` registry.

A format is a :class:`FixationFormat` subclass registered with :func:`register_format`.
It reads one file into rows of the canonical table (:mod:`gazelm.gaze.fixations`) and
declares what the rest of gazelm needs to know about its studies, so that
:func:`gazelm.gaze.read_fixations`, :func:`gazelm.gaze.studies.study_trials`, fitting
priors and every ``gazelm gaze`` command work for it without format-specific code:

* ``pattern``: which files of a folder are of this format (a glob);
* ``trial_keys``: the columns that together identify one trial;
* ``measured``: real eye tracking (``False``: pseudo-fixations drawn from priors, which
  are never turned into human attention tables);
* ``alignment``: how its fixations meet code tokens (a method of
  :func:`gazelm.gaze.align.align_fixations`; ``None``: the study gives no token inventory,
  so no trials, priors or attention);
* ``code(stimulus)`` / ``language``: the stimulus' source code, where the study has it;
* ``tokens(fixations)``: the token inventory per stimulus (default: tree-sitter tokens of
  ``code(stimulus)`` in ``language``).

Options of a format are its constructor's keyword arguments
(``read_fixations(path, "eyelink", interest_areas=DIR)``). A user's own format is one
module named under ``plugins:`` (or ``gazelm gaze --plugin``); see ``docs/gaze.md``.
"""
from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping, Sequence

import pandas as pd

from gazelm.errors import GazelmInputError
from gazelm.gaze.fixations import ReadLog
from gazelm.registry import Registry, UnknownNameError

FORMATS: Registry[type["FixationFormat"]] = Registry("fixation format", package=__name__)


class FixationFormat:
    """One eye-tracking file format (see the module docstring for what it declares)."""

    name: ClassVar[str] = ""
    pattern: ClassVar[str] = "*"
    trial_keys: ClassVar[tuple[str, ...]] = ("participant", "stimulus", "trial")
    measured: ClassVar[bool] = True
    alignment: ClassVar[str | None] = None
    language: ClassVar[str | None] = None

    def read(self, path: Path, log: ReadLog) -> pd.DataFrame:
        """Rows of one file (any column order; ``order`` present), bad rows through ``log``."""
        raise NotImplementedError

    def code(self, stimulus: str) -> str | None:
        """Source code of ``stimulus`` where the study has it, else ``None``."""
        return None

    def tokens(self, fixations: pd.DataFrame) -> Mapping[str, Sequence[Any]] | Callable[[str], Sequence[Any] | None]:
        """Code tokens per stimulus that fixations are aligned to (default: ``code()`` labelled)."""
        if self.alignment is None:
            raise GazelmInputError(f"format {self.name!r} gives no code tokens to align fixations to "
                                   "(its studies lack the code or token positions)", field="format")
        if self.language is None:
            raise NotImplementedError(f"format {self.name!r}: set `language` or override tokens()")
        from gazelm.code.tokens import label_tokens

        cache: dict[str, list] = {}

        def tokens_of(stimulus: str) -> list:
            if stimulus not in cache:
                code = self.code(stimulus)
                cache[stimulus] = label_tokens(code, self.language) if code is not None else []
            return cache[stimulus]

        return tokens_of

    def trials(self, fixations: pd.DataFrame) -> list:
        """Fixations grouped into trials (``trial_keys``) and aligned to :meth:`tokens`."""
        from gazelm.gaze.align import align_fixations

        return align_fixations(fixations, self.tokens(fixations), method=self.alignment, keys=self.trial_keys)

    def __repr__(self) -> str:
        return f"<fixation format {self.name!r}>"


def register_format(name: str) -> Callable[[type[FixationFormat]], type[FixationFormat]]:
    """Class decorator: register a :class:`FixationFormat` under ``name``."""

    def deco(cls: type[FixationFormat]) -> type[FixationFormat]:
        if not (isinstance(cls, type) and issubclass(cls, FixationFormat)):
            raise TypeError(f"format {name!r}: register a FixationFormat subclass, not {cls!r}")
        from gazelm.gaze.align import ALIGNMENTS

        if cls.alignment is not None and cls.alignment not in ALIGNMENTS:
            raise ValueError(f"format {name!r}: alignment {cls.alignment!r} is not one of {', '.join(ALIGNMENTS)}")
        cls.name = name
        return FORMATS.register(name)(cls)

    return deco


def format_options(cls: type[FixationFormat]) -> list[str]:
    """The options (constructor keyword arguments) a format takes."""
    params = inspect.signature(cls.__init__).parameters
    return [p for p in params if p != "self" and not p.startswith("_")
            and params[p].kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]


def open_format(name: str, **options: Any) -> FixationFormat:
    """The format called ``name`` with its options; unknown names and options are named."""
    try:
        cls = FORMATS.get(name)
    except UnknownNameError as exc:
        raise GazelmInputError(f"unknown fixation format {name!r}; known: {', '.join(FORMATS.names())}",
                               field="format") from exc
    accepted = format_options(cls)
    for key in options:
        if key not in accepted:
            raise GazelmInputError(f"format {name!r} takes no option {key!r} "
                                   f"(options: {', '.join(accepted) or 'none'}, on_error)", field=key)
    return cls(**options)


__all__ = ["FORMATS", "FixationFormat", "format_options", "open_format", "register_format"]
