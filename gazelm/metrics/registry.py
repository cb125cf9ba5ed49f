"""The metric registry: names → corpus-level metric functions with metadata.

A metric is a function ``fn(predictions, references, **options) -> MetricResult``
registered with :func:`register_metric`. Every metric keeps its per-example
scores when it has them, so significance tests need no re-generation.

Scale: each metric declares ``scale`` in its registry meta, either ``100``
(BLEU variants, CodeXGLUE accuracy, chrF: reported on 0–100 as their papers and
packages do) or ``1`` (CodeBLEU, ROUGE-L, METEOR, exact/containment, pass@k:
0–1 as their packages do). :func:`compute` never rescales.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from gazelm.errors import GazelmInputError
from gazelm.registry import Registry

MetricFn = Callable[..., "MetricResult"]

#: The metric modules of ``gazelm.metrics`` are imported on the first lookup; a user's own module
#: is imported by naming it under ``plugins:`` in a config (:func:`gazelm.registry.import_plugins`).
METRICS: Registry[MetricFn] = Registry("metric", package="gazelm.metrics")


@dataclass
class MetricResult:
    """One metric's corpus value, optional per-example values, numeric extras and text info.

    ``extras`` are numeric side values (e.g. CodeBLEU components, BLEU precisions),
    flattened by :func:`score` as ``"<name>/<key>"``; ``info`` holds strings such as
    sacrebleu's signature.
    """

    value: float
    per_example: list[float] | None = None
    extras: dict[str, float] = field(default_factory=dict)
    info: dict[str, str] = field(default_factory=dict)


#: ``languages="code"``: any target language except natural language.
CODE = "code"
TEXT = "text"


def register_metric(name: str, higher_is_better: bool, *, scale: int = 1, description: str = "",
                    languages: Sequence[str] | str | None = None, **meta: Any) -> Callable[[MetricFn], MetricFn]:
    """Register a metric function under ``name``.

    ``scale`` is 1 (values in [0, 1]) or 100 (values in [0, 100]). ``languages``: the target
    languages the metric applies to (e.g. ``("java", "python", "c_sharp")``), ``"code"`` for
    every programming language (not ``text``), ``None`` for any target. Further metadata callers
    read: ``check`` — ``() -> message | None`` saying what the metric needs and is missing
    (checked before a run); ``samples=True`` — a prediction may be a list of n samples (pass@k);
    ``reference="task_id"`` — the references are the examples' ids (HumanEval/MBPP task ids),
    not their target texts.
    """
    if scale not in (1, 100):
        raise ValueError(f"metric {name!r}: scale must be 1 or 100, got {scale!r}")
    langs = languages if languages in (None, CODE) else tuple(languages)
    return METRICS.register(name, higher_is_better=bool(higher_is_better), scale=scale,
                            description=description, languages=langs, **meta)


def metric_names() -> list[str]:
    """All registered metric names, sorted."""
    return METRICS.names()


def higher_is_better(name: str) -> bool:
    """Whether larger values of metric ``name`` are better. Unknown name → UnknownNameError."""
    return bool(METRICS.meta(name)["higher_is_better"])


def metric_scale(name: str) -> int:
    """1 if metric ``name`` lies in [0, 1], 100 if in [0, 100]."""
    return int(METRICS.meta(name)["scale"])


def metric_applies(name: str, language: str | None) -> bool:
    """Whether metric ``name`` can score targets in ``language`` (``None``: unknown, assumed yes)."""
    allowed = METRICS.meta(name).get("languages")
    if allowed is None or language is None:
        return True
    if allowed == CODE:
        return language != TEXT
    return language in allowed


def metric_languages(name: str) -> str:
    """The languages metric ``name`` applies to, in words (for error messages)."""
    allowed = METRICS.meta(name).get("languages")
    return {None: "any", CODE: "programming languages (not text)"}.get(allowed) or ", ".join(allowed)


#: Options any metric may ignore (passed to every metric by callers such as ``gazelm eval``).
GENERAL_OPTIONS = frozenset({"lang", "n_jobs", "execution"})


def _accepted_options(fn: MetricFn, options: dict[str, Any]) -> dict[str, Any]:
    params = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return dict(options)
    return {k: v for k, v in options.items() if k in params}


class MetricOptionError(GazelmInputError, TypeError):
    """An option that none of the requested metrics accepts (a typo, or the wrong metric)."""


def reference_kind(name: str) -> str:
    """What metric ``name`` compares against: ``"target"`` (the reference text, the default) or
    ``"task_id"`` (the example's id, e.g. ``HumanEval/0``: pass@k)."""
    return str(METRICS.meta(name).get("reference", "target"))


def compute(names: Sequence[str] | str, predictions: Sequence[Any],
            references: Sequence[Any] | Mapping[str, Sequence[Any]], **options: Any) -> dict[str, MetricResult]:
    """Compute each named metric over the corpus.

    ``references``: one list for every metric, or a mapping from reference kind
    (:func:`reference_kind`: ``"target"``, ``"task_id"``) to a list, so each metric gets the
    references it compares against. Options (``lang``, ``n_jobs``, ``k``, ...) go to every
    metric that accepts them; others ignore them, but an option no requested metric accepts
    (other than :data:`GENERAL_OPTIONS`) is an error, so typos do not pass silently. Only
    metrics registered with ``samples=True`` take a list of samples per prediction. All
    names are checked before any work starts.
    """
    names = [names] if isinstance(names, str) else list(names)
    fns = {name: METRICS.get(name) for name in names}  # unknown name fails here, listing known ones
    unused = set(options) - GENERAL_OPTIONS - {
        key for fn in fns.values() for key in _accepted_options(fn, options)}
    if unused:
        raise MetricOptionError(f"option(s) {', '.join(sorted(unused))} accepted by none of the metrics "
                                f"{', '.join(names)}", field="metric_options")
    refs = {}
    for name in names:
        kind = reference_kind(name)
        if isinstance(references, Mapping):
            if kind not in references:
                raise GazelmInputError(f"metric {name} compares against {kind} references, which this input "
                                       f"does not have (it has: {', '.join(references)})", field="references")
            refs[name] = list(references[kind])
        else:
            refs[name] = list(references)
        if len(predictions) != len(refs[name]):
            raise GazelmInputError(f"{len(predictions)} predictions but {len(refs[name])} references")
    single = [name for name in names if not METRICS.meta(name).get("samples")]
    if single and not all(isinstance(p, str) for p in predictions):
        row = next(i for i, p in enumerate(predictions) if not isinstance(p, str)) + 1
        takes = [n for n in METRICS.names() if METRICS.meta(n).get("samples")]
        raise GazelmInputError(f"{', '.join(single)} score(s) one prediction per example, not a list of samples "
                               f"(only {', '.join(takes)} take n samples per problem)", row=row, field="prediction")
    return {name: fn(list(predictions), refs[name], **_accepted_options(fn, options)) for name, fn in fns.items()}


def score(names: Sequence[str] | str, predictions: Sequence[Any],
          references: Sequence[Any] | Mapping[str, Sequence[Any]], **options: Any) -> dict[str, float]:
    """Flat ``{name: value, "name/extra": value, ...}`` of :func:`compute`."""
    out: dict[str, float] = {}
    for name, result in compute(names, predictions, references, **options).items():
        out[name] = float(result.value)
        for key, value in result.extras.items():
            out[f"{name}/{key}"] = float(value)
    return out


def headline_metric_names(names) -> list[str]:
    """The ``val/<metric>`` and ``test/<metric>`` names among logged keys, in order: what summary
    tables show (components such as ``val/bleu_sacre/precision_1`` and ``train/`` curves left out)."""
    return [n for n in names if n.startswith(("val/", "test/")) and n.count("/") == 1]
