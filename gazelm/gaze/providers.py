"""Gaze providers for the DataModule (config group ``gaze``).

Each provider has ``annotate(text, language, key) -> GazeAnnotation | None`` (see
:mod:`gazelm.gaze.annotation`): per code token its character span, EyeMulator weight,
mask bit and, where real gaze exists, human attention. ``None`` means no gaze for that
text (a natural-language text, an unknown language, a key absent from a file).

Results are cached in memory, keyed by a hash of text + language + provider settings,
so a second epoch (or a re-run in the same process) costs a dict lookup.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from gazelm.code.tokens import label_tokens, normalise_language
from gazelm.errors import GazelmInputError
from gazelm.gaze.annotation import GazeAnnotation
from gazelm.gaze.fixations import open_text, parse_json
from gazelm.gaze.priors import RESOURCE_DIR, GazePriors, load_priors, resolve_priors_path
from gazelm.gaze.simulate import simulate_scanpath
from gazelm.gaze.weights import DEFAULT_W_BASE, check_variant, row_weights, token_weights


def _digest(*parts: str) -> str:
    h = hashlib.blake2b(digest_size=16)
    for p in parts:
        h.update(p.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


def _remember(cache: dict[str, GazeAnnotation | None], key: str, value: GazeAnnotation | None,
              size: int) -> GazeAnnotation | None:
    """``value``, stored in a dict bounded to ``size`` entries (the oldest goes first; 0: no caching)."""
    if size > 0:
        if len(cache) >= size:
            del cache[next(iter(cache))]
        cache[key] = value
    return value


def priors_digest(priors: GazePriors) -> str:
    """The priors' contents as a digest: the same priors draw the same pseudo-scanpaths wherever
    they are stored (a path in the seed made runs differ between machines and folders)."""
    return _digest(repr(sorted((k, b.fixated, b.total, b.alpha, b.beta) for k, b in priors.betas.items())),
                   repr(sorted(priors.ngram_counts.items())), str(priors.ordered))


def _priors_with_data_dir(priors: str, data_dir: str | None) -> GazePriors:
    if data_dir and priors in ("combined", "reading", "writing"):
        return load_priors(Path(data_dir) / "eyemulator" / "priors" / priors)
    return load_priors(priors)


class PriorsGazeProvider:
    """tree-sitter labels + a pseudo-scanpath drawn from priors + EyeMulator weights.

    ``priors``: a folder, a shipped name (``itrace_java``, ``eyelink_python``) or an
    EyeMulator release condition (``combined``, ``reading``, ``writing``; read from
    ``data_dir``/eyemulator/priors, default ``$GAZELM_DATA_DIR``). The pseudo-scanpath of a
    text is seeded by ``seed`` and the text itself, so it is the same every epoch.
    """

    def __init__(self, priors: str = "combined", weights_variant: str = "full", w_base: float = DEFAULT_W_BASE,
                 seed: int = 0, line_span: int = 3, data_dir: str | None = None, cache_size: int = 200_000):
        self.priors_name = str(priors)
        self.priors = _priors_with_data_dir(self.priors_name, data_dir)
        self.weights_variant = check_variant(weights_variant)
        self.w_base = float(w_base)
        self.seed = int(seed)
        self.line_span = int(line_span)
        self.cache: dict[str, GazeAnnotation | None] = {}
        self.cache_size = int(cache_size)
        self._settings = json.dumps([type(self).__name__, priors_digest(self.priors),
                                     self.weights_variant, self.w_base, self.seed, self.line_span])

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(priors={self.priors_name!r}, weights_variant={self.weights_variant!r}, "
                f"w_base={self.w_base}, seed={self.seed})")

    def annotate(self, text: str, language: str, key: str = "") -> GazeAnnotation | None:
        lang = normalise_language(language)
        if lang is None or not text:
            return None
        ckey = _digest(self._settings, lang, text)
        if ckey in self.cache:
            return self.cache[ckey]
        return _remember(self.cache, ckey, self._annotate(text, lang, ckey), self.cache_size)

    def _annotate(self, text: str, lang: str, digest: str) -> GazeAnnotation | None:
        tokens = label_tokens(text, lang)
        if not tokens:
            return None
        example_seed = self.seed * 1_000_003 + int(digest[:12], 16)
        path = simulate_scanpath(tokens, self.priors, seed=example_seed, line_span=self.line_span)
        weights = token_weights(path.mask, [t.label for t in tokens], path.ngrams, self.priors,
                                variant=self.weights_variant, w_base=self.w_base, seed=example_seed)
        return GazeAnnotation(spans=[(t.start, t.end) for t in tokens], weights=weights, mask=path.mask)


class EyeMulatorPriorsProvider(PriorsGazeProvider):
    """Priors of the EyeMulator release (``combined`` by default; ``reading``/``writing``
    or any shipped name also accepted)."""


class ItraceJavaProvider(PriorsGazeProvider):
    """Priors gazelm fitted on the iTrace Java study (``resources/priors/itrace_java``)."""

    def __init__(self, priors: str = "itrace_java", weights_variant: str = "full", w_base: float = DEFAULT_W_BASE,
                 seed: int = 0, line_span: int = 3, data_dir: str | None = None, cache_size: int = 200_000):
        super().__init__(priors=priors, weights_variant=weights_variant, w_base=w_base, seed=seed,
                         line_span=line_span, data_dir=data_dir, cache_size=cache_size)


class EyelinkPythonProvider(PriorsGazeProvider):
    """Priors fitted on the EyeLink Python study; for a text that is exactly one of its
    snippets, also the measured attention (dwell normalised over the snippet's tokens,
    averaged over participants; ``resources/priors/eyelink_python/attention.json``)."""

    def __init__(self, priors: str = "eyelink_python", weights_variant: str = "full", w_base: float = DEFAULT_W_BASE,
                 seed: int = 0, line_span: int = 3, data_dir: str | None = None, cache_size: int = 200_000,
                 attention: str | None = None):
        super().__init__(priors=priors, weights_variant=weights_variant, w_base=w_base, seed=seed,
                         line_span=line_span, data_dir=data_dir, cache_size=cache_size)
        path = Path(attention) if attention else RESOURCE_DIR / "eyelink_python" / "attention.json"
        self.attention: dict[str, dict[str, Any]] = {}
        if path.exists():
            for entry in json.loads(path.read_text(encoding="utf-8")):
                self.attention[entry["code_sha256"]] = entry

    def _annotate(self, text: str, lang: str, digest: str) -> GazeAnnotation | None:
        ann = super()._annotate(text, lang, digest)
        if ann is None or lang != "python":
            return ann
        entry = self.attention.get(hashlib.sha256(text.encode("utf-8")).hexdigest())
        if entry is None:
            return ann
        spans = [tuple(s) for s in entry["spans"]]
        if spans != [tuple(s) for s in ann.spans]:
            return ann  # tokenizer changed since the table was built: no attention rather than a wrong one
        return replace(ann, attention=list(entry["attention"]))


def _locate(text: str, tokens: list[str], language: str | None) -> list[tuple[int, int] | None]:
    """Character span of each code token (``None`` if absent).

    The rows' ``code_tokens`` are not in text order and their occurrence fields are
    unreliable, so each is matched to the first unused tree-sitter token with the same
    text (substring search where no grammar applies or no token matches).
    """
    lang = normalise_language(language) if language else None
    by_text: dict[str, list[tuple[int, int]]] = {}
    if lang is not None:
        for t in label_tokens(text, lang):
            by_text.setdefault(t.text, []).append((t.start, t.end))
    used: set[tuple[int, int]] = set()
    out: list[tuple[int, int] | None] = []
    for tok in tokens:
        span = next((sp for sp in by_text.get(tok, ()) if sp not in used), None)
        if span is None and tok:
            pos = text.find(tok)
            while pos >= 0 and any(a < pos + len(tok) and pos < b for a, b in used):
                pos = text.find(tok, pos + 1)
            span = (pos, pos + len(tok)) if pos >= 0 else None
        if span is not None:
            used.add(span)
        out.append(span)
    return out


class FromFileProvider:
    """Weights from a JSONL file of EyeMulator-schema rows, keyed by example id.

    A row matches the key ``row[key_field]``, ``<code_content_hash>-<line>`` (the id the
    ``eyemulator_jsonl`` source gives), or ``<code_content_hash>``, and only if its
    ``code`` equals the text. Weights come from ``weights_field`` when the row has it
    (``gazelm gaze weights`` writes it), else from ``mask``/``ngrams`` and ``priors``.
    Code tokens are located in the text by :func:`_locate`; one that cannot be found (an
    upstream artefact such as ``nan``) is left out.
    """

    def __init__(self, path: str, key_field: str = "id", weights_field: str = "weights",
                 priors: str | None = "combined", weights_variant: str = "full", w_base: float = DEFAULT_W_BASE,
                 seed: int = 0, data_dir: str | None = None, cache_size: int = 200_000):
        self.path = Path(path)
        if not self.path.is_file():
            raise GazelmInputError("gaze file not found", path=self.path, field="path")
        self.key_field, self.weights_field = key_field, weights_field
        self.weights_variant = check_variant(weights_variant)
        self.w_base, self.seed = float(w_base), int(seed)
        self.priors_name = priors
        self._priors: GazePriors | None = None
        self._data_dir = data_dir
        self.rows: dict[str, dict[str, Any]] = {}
        for lineno, raw in enumerate(open_text(self.path).split("\n"), start=1):
            if not raw.strip():
                continue
            row = parse_json(raw, self.path, row=lineno)
            if not isinstance(row, dict):
                raise GazelmInputError(f"expected a JSON object, got {type(row).__name__}", path=self.path, row=lineno)
            if not isinstance(row.get("code"), str) or not isinstance(row.get("code_tokens"), list):
                raise GazelmInputError("row needs `code` and `code_tokens`", path=self.path, row=lineno,
                                       field="code_tokens")
            row["_line"] = lineno
            h = row.get("code_content_hash")
            for k in (row.get(key_field), f"{h}-{lineno}" if h else None, h):
                if k is not None:
                    self.rows.setdefault(str(k), row)
        self.cache: dict[str, GazeAnnotation | None] = {}
        self.cache_size = int(cache_size)

    def _get_priors(self) -> GazePriors:
        if self._priors is None:
            if self.priors_name is None:
                raise GazelmInputError("rows without weights need `priors`", path=self.path, field="priors")
            self._priors = _priors_with_data_dir(self.priors_name, self._data_dir)
        return self._priors

    def annotate(self, text: str, language: str, key: str = "") -> GazeAnnotation | None:
        row = self.rows.get(str(key))
        if row is None or row["code"] != text:
            return None
        ckey = _digest(str(row["_line"]), self.weights_variant, str(self.w_base), str(self.seed))
        if ckey in self.cache:
            return self.cache[ckey]
        if isinstance(row.get(self.weights_field), list):
            weights = [float(w) for w in row[self.weights_field]]
            if len(weights) != len(row["code_tokens"]):
                raise GazelmInputError(f"{len(weights)} weights for {len(row['code_tokens'])} code_tokens",
                                       path=self.path, row=row["_line"], field=self.weights_field)
        else:
            try:
                weights = row_weights(row, self._get_priors(), variant=self.weights_variant, w_base=self.w_base,
                                      seed=self.seed)
            except GazelmInputError as exc:
                raise GazelmInputError(str(exc), path=self.path, row=row["_line"], field=exc.field) from exc
        mask = row.get("mask") if isinstance(row.get("mask"), list) else None
        spans, ws, ms = [], [], []
        for j, span in enumerate(_locate(text, [str(t) for t in row["code_tokens"]], language)):
            if span is None:
                continue
            spans.append(span)
            ws.append(weights[j])
            ms.append(int(mask[j]) if mask else 1)
        order = sorted(range(len(spans)), key=lambda i: spans[i])
        value = GazeAnnotation(spans=[spans[i] for i in order], weights=[ws[i] for i in order],
                               mask=[ms[i] for i in order] if mask else None)
        return _remember(self.cache, ckey, value, self.cache_size)


__all__ = ["PriorsGazeProvider", "EyeMulatorPriorsProvider", "ItraceJavaProvider", "EyelinkPythonProvider",
           "FromFileProvider", "resolve_priors_path"]
