"""Gaze priors: a Beta per semantic label and label n-gram counts along scanpaths.

Fitting follows EyeMulator (and its release's ``beta_distribution.json``): for label s,
``c1`` = fixated tokens of label s, ``n`` = tokens of label s (summed over trials),
``Beta(α = c1 + 1, β = n − c1 + 1)``, ``E[θ_s] = α / (α + β)``. Label 1/2/3-grams are
counted along each trial's scanpath (consecutive fixations on one token merged,
unlabelled tokens skipped) and pruned below ``min_count``.

Files (one folder, the EyeMulator release's layout, so either reads with
:func:`load_priors`): ``beta_distribution.json``, ``monogram_counts.json``,
``bigram_counts.json``, ``trigram_counts.json`` (keys ``"('a', 'b')"``) and gazelm's
``priors_meta.json``. The release's n-gram keys are sorted label tuples (order-free);
gazelm's fitted ones keep scanpath order (``meta["ngram_order"]``), and lookups handle both.
"""
from __future__ import annotations

import ast
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from gazelm.atomic import write_text
from gazelm.code.labels import LABEL_SET, SEMANTIC_LABELS
from gazelm.errors import GazelmInputError

RELEASE_CONDITIONS = ("combined", "reading", "writing")
RESOURCE_DIR = Path(__file__).resolve().parent.parent / "resources" / "priors"
_NGRAM_FILES = {1: "monogram_counts.json", 2: "bigram_counts.json", 3: "trigram_counts.json"}


@dataclass(frozen=True)
class LabelBeta:
    """Beta(alpha, beta) of one label's fixation probability, from c1 of n tokens."""

    label: str
    fixated: int
    total: int
    alpha: float
    beta: float

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta) if self.alpha + self.beta > 0 else 0.0


@dataclass
class GazePriors:
    """Per-label Beta and label n-gram counts (n = 1..3)."""

    betas: dict[str, LabelBeta]
    ngram_counts: dict[tuple[str, ...], int]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def ordered(self) -> bool:
        return self.meta.get("ngram_order", "ordered") == "ordered"

    def mean(self, label: str | None) -> float:
        """E[θ_s]; 0 for an unknown or missing label."""
        b = self.betas.get(label) if label else None
        return b.mean if b else 0.0

    def count(self, ngram: Iterable[str]) -> int:
        """Prior count of a label n-gram (order ignored for order-free priors); 0 if unseen."""
        key = tuple(ngram)
        if not self.ordered:
            key = tuple(sorted(key))
        return self.ngram_counts.get(key, 0)

    def aggregate(self) -> tuple[float, float]:
        """(α_agg, β_agg) = (Σ c1 + 1, Σ (n − c1) + 1) over labels: overall fixation density."""
        c1 = sum(b.fixated for b in self.betas.values())
        n = sum(b.total for b in self.betas.values())
        return c1 + 1.0, n - c1 + 1.0

    def ngrams(self, n: int) -> dict[tuple[str, ...], int]:
        return {k: v for k, v in self.ngram_counts.items() if len(k) == n}


def ngram_counts(sequences: Iterable[list[str]], max_n: int = 3) -> Counter:
    """Counts of every contiguous 1..max_n-gram of each label sequence."""
    counts: Counter = Counter()
    for seq in sequences:
        for n in range(1, max_n + 1):
            for i in range(len(seq) - n + 1):
                counts[tuple(seq[i:i + n])] += 1
    return counts


def fit_label_priors(trials: Iterable, *, min_count: int = 5, condition: str | None = None,
                     meta: Mapping[str, Any] | None = None) -> GazePriors:
    """Fit priors from aligned trials (:class:`gazelm.gaze.align.TrialGaze`).

    ``condition``: keep only trials whose ``condition`` equals it (``None`` = all:
    the *combined* priors). Labels without tokens get no Beta.
    """
    fixated: Counter = Counter()
    total: Counter = Counter()
    sequences = []
    n_trials = 0
    for t in trials:
        if condition is not None and t.condition != condition:
            continue
        n_trials += 1
        hit = t.fixated()
        for i, tok in enumerate(t.tokens):
            if tok.label is None:
                continue
            total[tok.label] += 1
            fixated[tok.label] += int(hit[i])
        sequences.append(t.label_sequence())
    betas = {s: LabelBeta(s, fixated[s], total[s], fixated[s] + 1.0, total[s] - fixated[s] + 1.0)
             for s in SEMANTIC_LABELS if total[s] > 0}
    counts = {k: v for k, v in ngram_counts(sequences).items() if v >= min_count}
    info = {"ngram_order": "ordered", "min_count": min_count, "trials": n_trials,
            "condition": condition or "combined"}
    info.update(meta or {})
    return GazePriors(betas, counts, info)


def _key(ngram: tuple[str, ...]) -> str:
    return ngram[0] if len(ngram) == 1 else str(ngram)


def save_priors(priors: GazePriors, directory: str | Path) -> Path:
    """Write ``priors`` in the EyeMulator release layout (+ ``priors_meta.json``)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    beta = [{"semantic_label": b.label, "saccades_count": b.fixated, "word_count": b.total,
             "alpha": b.alpha, "beta": b.beta} for b in priors.betas.values()]
    write_text(d / "beta_distribution.json", json.dumps(beta, indent=1) + "\n")
    for n, name in _NGRAM_FILES.items():
        items = sorted(priors.ngrams(n).items(), key=lambda kv: (-kv[1], kv[0]))
        write_text(d / name, json.dumps({_key(k): v for k, v in items}, indent=1) + "\n")
    write_text(d / "priors_meta.json", json.dumps(priors.meta, indent=1, sort_keys=True) + "\n")
    return d


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GazelmInputError("missing priors file", path=path) from None
    except json.JSONDecodeError as exc:
        raise GazelmInputError(f"invalid JSON: {exc.msg}", path=path, row=exc.lineno) from exc


def resolve_priors_path(name_or_path: str | Path) -> Path:
    """A priors folder from a path, a shipped name (``itrace_java``, ``eyelink_python``) or
    an EyeMulator release condition (``combined``/``reading``/``writing``, under
    ``$GAZELM_DATA_DIR/eyemulator/priors``)."""
    text = str(name_or_path)
    if text in RELEASE_CONDITIONS:
        from gazelm.config import default_data_dir

        return Path(default_data_dir()) / "eyemulator" / "priors" / text
    shipped = RESOURCE_DIR / text
    if "/" not in text and shipped.is_dir():
        return shipped
    return Path(text)


def shipped_priors() -> list[str]:
    """Names of the priors gazelm ships in ``gazelm/resources/priors``."""
    return sorted(p.name for p in RESOURCE_DIR.iterdir() if (p / "beta_distribution.json").exists()) \
        if RESOURCE_DIR.is_dir() else []


def load_priors(path: str | Path) -> GazePriors:
    """Read priors saved by :func:`save_priors` or an EyeMulator release folder.

    ``path`` may also be a shipped name or a release condition (:func:`resolve_priors_path`).
    Release quirks handled: ``*_beta_distribution.json`` names in its ``corpus/`` copies,
    single-character monogram keys (an upstream artifact: ignored and counted in
    ``meta["ignored_monogram_keys"]``), label names with stray whitespace.
    """
    d = resolve_priors_path(path)
    if not d.is_dir():
        raise GazelmInputError("priors folder not found (a folder, a shipped name "
                               f"{shipped_priors()} or {list(RELEASE_CONDITIONS)})", path=d)
    def find(name: str) -> Path:
        p = d / name
        if p.exists():
            return p
        alt = sorted(d.glob(f"*_{name}")) + sorted(d.glob(f"*{name.split('_', 1)[-1]}"))
        return alt[0] if alt else p

    meta_path = d / "priors_meta.json"
    meta: dict[str, Any] = _read_json(meta_path) if meta_path.exists() else {"ngram_order": "sorted",
                                                                             "source": "EyeMulator release"}
    beta_path = find("beta_distribution.json")
    betas: dict[str, LabelBeta] = {}
    for i, item in enumerate(_read_json(beta_path), start=1):
        try:
            label = str(item["semantic_label"]).strip()
            betas[label] = LabelBeta(label, int(item.get("saccades_count", item["alpha"] - 1)),
                                     int(item.get("word_count", item["alpha"] + item["beta"] - 2)),
                                     float(item["alpha"]), float(item["beta"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise GazelmInputError(f"bad Beta entry: {exc}", path=beta_path, row=i, field="alpha/beta") from exc
    counts: dict[tuple[str, ...], int] = {}
    ignored = 0
    for n, name in _NGRAM_FILES.items():
        p = find(name)
        for k, v in _read_json(p).items():
            if n == 1:
                key = (k.strip(),)
            else:
                try:
                    key = tuple(str(x).strip() for x in ast.literal_eval(k))
                except (ValueError, SyntaxError) as exc:
                    raise GazelmInputError(f"bad n-gram key {k!r}", path=p, field=k) from exc
            if any(x not in LABEL_SET for x in key):
                ignored += 1
                continue
            counts[key] = int(v)
    meta = dict(meta, path=str(d))
    if ignored:
        meta["ignored_ngram_keys"] = ignored
    return GazePriors(betas, counts, meta)


def data_dir() -> Path:
    """``$GAZELM_DATA_DIR`` (default ``<project>/../shared/data``)."""
    from gazelm.config import default_data_dir

    return Path(os.environ.get("GAZELM_DATA_DIR") or default_data_dir())
