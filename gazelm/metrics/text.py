"""Text and code similarity metrics, each variant named for what it computes.

Sources of each formula:

* ``bleu_sacre`` — sacrebleu corpus BLEU (13a tokenizer); per-example values are
  sacrebleu sentence BLEU with effective order. 0–100.
* ``bleu_codexglue`` / ``exact_match_codexglue`` — the CodeXGLUE code-to-code
  evaluator (``Code-Code/code-to-code-trans/evaluator``): corpus BLEU-4 of
  tensorflow/nmt ``scripts/bleu.py`` ``compute_bleu(..., smooth=True)`` over
  whitespace tokens of stripped lines, ×100; "Acc" = % of lines equal after
  ``strip()``. 0–100 (the evaluator rounds to 2 decimals for printing; we do not).
* ``smoothed_bleu4`` — CodeXGLUE code-to-text ``evaluator/smooth_bleu.py``
  (``bleuFromMaps``): sentence-level BLEU-4, add-one smoothing for n>1, NIST
  normalisation after lower-casing and ``splitPuncts``, averaged, ×100. 0–100.
* ``codebleu`` — the ``codebleu`` package (0.7.0); corpus sufficient statistics
  are summed over process-parallel chunks, so the value equals
  ``codebleu.calc_codebleu`` on the whole corpus. Pitfall kept for comparability:
  a corpus data-flow score of 0 (no reference data-flow) counts as 1 in the total;
  ``codebleu/dataflow_zero_replaced`` says when that happened. 0–1.
  Second pitfall: the package's data-flow extraction iterates over sets, so its
  data-flow score (and CodeBLEU) can change with ``PYTHONHASHSEED`` (measured:
  0.74877 vs 0.74867 on 1,000 C# pairs); set ``PYTHONHASHSEED=0`` for reproducible
  numbers (recorded in ``info["pythonhashseed"]``). Workers are forked, so all chunks
  share the parent's hash seed.
* ``rouge_l`` — rouge-score ROUGE-L F1 with Porter stemming, averaged. Its tokenizer
  keeps only ``[a-z0-9]`` runs (``foo_bar(x)`` → ``foo bar x``). 0–1.
* ``meteor`` — NLTK METEOR over whitespace tokens, averaged; needs WordNet 3.0
  offline (``scripts/install_wordnet.sh``). 0–1.
* ``chrf`` — sacrebleu chrF++ (``CHRF(word_order=2)``), corpus level. 0–100.
* ``exact_match`` — prediction equals reference after stripping surrounding whitespace. 0–1.
* ``containment_exact`` / ``h_exact`` — EyeMulator's lenient match: after removing
  comments and all whitespace, prediction equals the reference or either contains
  the other (an empty normalised prediction only matches an empty reference);
  ``h_exact`` = 0.5·exact_match + 0.5·containment_exact per example. 0–1.
* ``edit_similarity`` — CodeXGLUE line-level code completion (``CodeCompletion-line/
  evaluator/evaluator.py``: ``fuzz.ratio(pred.strip(), gt)`` averaged): the normalised
  InDel similarity ``100·(1 − d(a, b)/(|a| + |b|))`` with ``d`` the Levenshtein distance
  without substitutions (a substitution costs 2), computed by ``rapidfuzz.fuzz.ratio``,
  which equals ``Levenshtein.ratio`` that fuzzywuzzy uses with python-Levenshtein installed
  (not difflib's Ratcliff–Obershelp ratio, fuzzywuzzy's pure-Python fallback). Both sides
  are stripped; fuzzywuzzy rounds each pair to an integer, we do not. 0–100.

Languages: a metric registers the target languages it applies to (``languages``: a tuple,
``"code"`` for any programming language, or none for any text); :func:`gazelm.metrics.
registry.metric_applies` is what configs are checked against before training.
"""
from __future__ import annotations

import collections
import logging
import math
import multiprocessing
import os
import re
import sys
import xml.sax.saxutils
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from typing import Any, Callable, Sequence

from gazelm.metrics.registry import MetricResult, register_metric

log = logging.getLogger(__name__)

#: Below this many pairs a metric runs in-process (starting workers costs more than it saves).
PARALLEL_MIN_PAIRS = 200


# ---------------------------------------------------------------- process-parallel helper
def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def resolve_n_jobs(n_jobs: int | None, n_items: int) -> int:
    """Worker processes for ``n_items``: ``k > 0`` = k; ``-1`` = every usable core
    (:func:`usable_cores`), ``-2`` all but one, …; ``None``/0 (the default) = every usable core
    once there are :data:`PARALLEL_MIN_PAIRS` items, else 1 (starting workers costs more than
    it saves on a few pairs). Never more workers than items."""
    if n_jobs is None or n_jobs == 0:
        n_jobs = usable_cores() if n_items >= PARALLEL_MIN_PAIRS else 1
    elif n_jobs < 0:
        n_jobs = max(1, usable_cores() + 1 + n_jobs)
    return max(1, min(int(n_jobs), n_items))


def map_chunks(fn: Callable[[list[Any]], list[Any]], items: Sequence[Any], n_jobs: int | None,
               chunks_per_job: int = 4, during: Callable[[], Any] | None = None) -> tuple[list[Any], Any]:
    """``fn`` over contiguous chunks of ``items`` in worker processes; results concatenated in order.

    ``fn`` must be a module-level function taking a list and returning a list of equal length.
    ``during()`` runs in this process while the workers run; returns ``(results, during())``.
    """
    items = list(items)
    jobs = resolve_n_jobs(n_jobs, len(items))
    if jobs == 1:
        return list(fn(items)), (during() if during else None)
    n_chunks = min(len(items), jobs * chunks_per_job)
    size = math.ceil(len(items) / n_chunks)
    chunks = [items[i:i + size] for i in range(0, len(items), size)]
    # fork: works from scripts without a __main__ guard and from notebooks; workers only run
    # pure-Python / tree-sitter code, never torch or CUDA
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    if method == "fork":  # import what fn imports here once, so forked workers inherit it (nltk: ~4 s a worker)
        fn([])
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context(method)) as pool:
        futures = [pool.submit(fn, chunk) for chunk in chunks]
        extra = during() if during else None
        out: list[Any] = []
        for future in futures:
            out.extend(future.result())
    return out, extra


# ---------------------------------------------------------------- sacrebleu BLEU and chrF++
def _sentence_bleu_chunk(pairs: list[tuple[str, str]]) -> list[float]:
    from sacrebleu.metrics import BLEU

    sentence = BLEU(effective_order=True)
    return [sentence.sentence_score(p, [r]).score for p, r in pairs]


def _sentence_chrf_chunk(pairs: list[tuple[str, str]]) -> list[float]:
    from sacrebleu.metrics import CHRF

    metric = CHRF(word_order=2)
    return [metric.sentence_score(p, [r]).score for p, r in pairs]


@register_metric("bleu_sacre", higher_is_better=True, scale=100,
                 description="sacrebleu corpus BLEU (13a); per-example sentence BLEU")
def bleu_sacre(predictions: list[str], references: list[str], n_jobs: int | None = None) -> MetricResult:
    from sacrebleu.metrics import BLEU

    corpus = BLEU()
    per, result = map_chunks(_sentence_bleu_chunk, list(zip(predictions, references)), n_jobs,
                             during=lambda: corpus.corpus_score(predictions, [references]))
    extras = {f"precision_{i + 1}": float(p) for i, p in enumerate(result.precisions)}
    extras["brevity_penalty"] = float(result.bp)
    return MetricResult(float(result.score), per, extras, {"signature": str(corpus.get_signature())})


@register_metric("chrf", higher_is_better=True, scale=100, description="sacrebleu chrF++ (word_order=2)")
def chrf(predictions: list[str], references: list[str], n_jobs: int | None = None) -> MetricResult:
    from sacrebleu.metrics import CHRF

    metric = CHRF(word_order=2)
    per, result = map_chunks(_sentence_chrf_chunk, list(zip(predictions, references)), n_jobs,
                             during=lambda: metric.corpus_score(predictions, [references]))
    return MetricResult(float(result.score), per, {}, {"signature": str(metric.get_signature())})


# ---------------------------------------------------------------- CodeXGLUE code-to-code BLEU
def _nmt_ngrams(segment: Sequence[str], max_order: int) -> collections.Counter:
    counts: collections.Counter = collections.Counter()
    for order in range(1, max_order + 1):
        for i in range(len(segment) - order + 1):
            counts[tuple(segment[i:i + order])] += 1
    return counts


def nmt_compute_bleu(reference_corpus: Sequence[Sequence[Sequence[str]]],
                     translation_corpus: Sequence[Sequence[str]], max_order: int = 4,
                     smooth: bool = False) -> tuple[float, list[float], float, float, int, int]:
    """tensorflow/nmt ``scripts/bleu.py`` ``compute_bleu`` (Apache-2.0), as used by CodeXGLUE.

    Returns ``(bleu, precisions, bp, ratio, translation_length, reference_length)`` with
    bleu in [0, 1]. Smoothing is Lin & Och (2004) add-one on every order. One deviation:
    an empty translation corpus (the original divides by zero) gives bleu 0, bp 0.
    """
    matches = [0] * max_order
    possible = [0] * max_order
    reference_length = translation_length = 0
    for references, translation in zip(reference_corpus, translation_corpus):
        reference_length += min(len(r) for r in references)
        translation_length += len(translation)
        merged: collections.Counter = collections.Counter()
        for reference in references:
            merged |= _nmt_ngrams(reference, max_order)
        overlap = _nmt_ngrams(translation, max_order) & merged
        for ngram, count in overlap.items():
            matches[len(ngram) - 1] += count
        for order in range(1, max_order + 1):
            if len(translation) - order + 1 > 0:
                possible[order - 1] += len(translation) - order + 1
    if smooth:
        precisions = [(matches[i] + 1.0) / (possible[i] + 1.0) for i in range(max_order)]
    else:
        precisions = [matches[i] / possible[i] if possible[i] > 0 else 0.0 for i in range(max_order)]
    geo_mean = math.exp(sum(math.log(p) / max_order for p in precisions)) if min(precisions) > 0 else 0.0
    if translation_length == 0 or reference_length == 0:
        ratio = float(translation_length) / reference_length if reference_length else 0.0
        bp = 0.0 if translation_length == 0 else 1.0
    else:
        ratio = float(translation_length) / reference_length
        bp = 1.0 if ratio > 1.0 else math.exp(1 - 1.0 / ratio)
    return geo_mean * bp, precisions, bp, ratio, translation_length, reference_length


@register_metric("bleu_codexglue", higher_is_better=True, scale=100,
                 description="CodeXGLUE code-to-code BLEU-4 (tensorflow/nmt smoothed corpus BLEU, whitespace tokens)")
def bleu_codexglue(predictions: list[str], references: list[str]) -> MetricResult:
    refs = [[r.strip().split()] for r in references]
    hyps = [p.strip().split() for p in predictions]
    bleu, precisions, bp, ratio, _, _ = nmt_compute_bleu(refs, hyps, 4, smooth=True)
    per = [100.0 * nmt_compute_bleu([r], [h], 4, smooth=True)[0] for r, h in zip(refs, hyps)]
    extras = {f"precision_{i + 1}": float(p) for i, p in enumerate(precisions)}
    extras.update(brevity_penalty=float(bp), length_ratio=float(ratio))
    return MetricResult(100.0 * bleu, per, extras)


@register_metric("exact_match_codexglue", higher_is_better=True, scale=100,
                 description="CodeXGLUE code-to-code Acc: % of lines equal after strip()")
def exact_match_codexglue(predictions: list[str], references: list[str]) -> MetricResult:
    per = [100.0 if p.strip() == r.strip() else 0.0 for p, r in zip(predictions, references)]
    return MetricResult(sum(per) / len(per) if per else 0.0, per)


# ---------------------------------------------------------------- CodeXGLUE code-to-text smoothed BLEU-4
_NORMALIZE1 = [(re.compile(p), r) for p, r in [(r"<skipped>", ""), (r"-\n", ""), (r"\n", " ")]]
_NORMALIZE2 = [(re.compile(p), r) for p, r in [
    (r"([\{-\~\[-\` -\&\(-\+\:-\@\/])", r" \1 "),  # tokenize punctuation (apostrophe is missing)
    (r"([^0-9])([\.,])", r"\1 \2 "),              # period and comma unless preceded by a digit
    (r"([\.,])([^0-9])", r" \1 \2"),              # period and comma unless followed by a digit
    (r"([0-9])(-)", r"\1 \2 "),                   # dash when preceded by a digit
]]


def nist_normalize(s: str) -> list[str]:
    """``smooth_bleu.normalize``: NIST mteval-v11a tokenisation, lower-cased."""
    for pattern, replace in _NORMALIZE1:
        s = re.sub(pattern, replace, s)
    s = xml.sax.saxutils.unescape(s, {"&quot;": '"'})
    s = f" {s} ".lower()
    for pattern, replace in _NORMALIZE2:
        s = re.sub(pattern, replace, s)
    return s.split()


def split_puncts(line: str) -> str:
    """``smooth_bleu.splitPuncts``: words and single punctuation marks, space-joined."""
    return " ".join(re.findall(r"[\w]+|[^\s\w]", line))


def smooth_bleu_sentence(references: Sequence[str], candidate: str, n: int = 4) -> float:
    """``smooth_bleu.bleu(refs, candidate)[0]``: smoothed sentence BLEU-n in [0, 1].

    log BLEU = mean_k log((correct_k + s_k) / (guess_k + s_k)) + min(0, 1 − (r+1)/(c+1)),
    s_k = 1 for k > 1 (0 for unigrams); r = shortest reference length, c = candidate length.
    """
    refs = [nist_normalize(r) for r in references]
    maxcounts: dict[tuple[str, ...], int] = {}
    for ref in refs:
        for ngram, count in _nmt_ngrams(ref, n).items():
            maxcounts[ngram] = max(maxcounts.get(ngram, 0), count)
    test = nist_normalize(candidate)
    guess = [max(len(test) - k + 1, 0) for k in range(1, n + 1)]
    correct = [0] * n
    for ngram, count in _nmt_ngrams(test, n).items():
        correct[len(ngram) - 1] += min(maxcounts.get(ngram, 0), count)
    tiny = sys.float_info.min
    logbleu = 0.0
    for k in range(n):
        add = 1 if k > 0 else 0
        logbleu += math.log(correct[k] + add + tiny) - math.log(guess[k] + add + tiny)
    logbleu /= float(n)
    reflen = min(len(r) for r in refs)
    logbleu += min(0.0, 1 - float(reflen + 1) / (len(test) + 1))
    return math.exp(logbleu)


@register_metric("smoothed_bleu4", higher_is_better=True, scale=100,
                 description="CodeXGLUE code-to-text smooth_bleu.py: sentence smoothed BLEU-4 averaged")
def smoothed_bleu4(predictions: list[str], references: list[str]) -> MetricResult:
    per = [100.0 * smooth_bleu_sentence([split_puncts(r.strip().lower())], split_puncts(p.strip().lower()))
           for p, r in zip(predictions, references)]
    return MetricResult(sum(per) / len(per) if per else 0.0, per)


# ---------------------------------------------------------------- CodeBLEU
CODEBLEU_LANGS = ("java", "python", "c_sharp")


def _codebleu_subtree_sexps(root: Any) -> list[str]:
    """``codebleu.syntax_match`` ``get_all_sub_trees``: s-expressions of every non-leaf node."""
    out, stack = [], [root]
    while stack:
        node = stack.pop()
        out.append(str(node))
        stack.extend(child for child in node.children if len(child.children) != 0)
    return out


@lru_cache(maxsize=None)
def _codebleu_keywords(lang: str) -> frozenset[str]:
    from codebleu.codebleu import PACKAGE_DIR

    with open(PACKAGE_DIR / "keywords" / f"{lang}.txt", encoding="utf-8") as f:
        return frozenset(x.strip() for x in f.readlines())


def _codebleu_weighted_refs(ref_tokens: list[str], keywords: frozenset[str]) -> list:
    return [[ref_tokens, {t: 1 if t in keywords else 0.2 for t in ref_tokens}]]


def codebleu_pair_stats(pairs: list[tuple[str, str, str]]) -> list[tuple[float, float, int, int, int, int]]:
    """Per pair ``(ref, hyp, lang)``: sentence n-gram BLEU, weighted n-gram BLEU, and the
    syntax and data-flow (match, total) counts that ``codebleu`` sums over a corpus.

    Mirrors ``codebleu.syntax_match.corpus_syntax_match`` and
    ``codebleu.dataflow_match.corpus_dataflow_match`` for one reference per example,
    with the package's own parser, comment stripping and data-flow extraction.
    """
    from codebleu import bleu as cb_bleu
    from codebleu import weighted_ngram_match
    from codebleu.dataflow_match import dfg_function, get_data_flow, normalize_dataflow
    from codebleu.parser import remove_comments_and_docstrings
    from codebleu.utils import get_tree_sitter_language
    from tree_sitter import Parser

    parsers: dict[str, Any] = {}
    out = []
    for ref, hyp, lang in pairs:
        if lang not in parsers:
            parser = Parser()
            parser.language = get_tree_sitter_language(lang)
            parsers[lang] = parser
        parser = parsers[lang]
        ref, hyp = ref.strip(), hyp.strip()
        ref_tokens, hyp_tokens = ref.split(), hyp.split()
        ngram = cb_bleu.corpus_bleu([[ref_tokens]], [hyp_tokens])
        weighted = weighted_ngram_match.corpus_bleu(
            [_codebleu_weighted_refs(ref_tokens, _codebleu_keywords(lang))], [hyp_tokens])
        try:
            hyp_code = remove_comments_and_docstrings(hyp, lang)
        except Exception:
            hyp_code = hyp
        try:
            ref_code = remove_comments_and_docstrings(ref, lang)
        except Exception:
            ref_code = ref
        cand_sexps = set(_codebleu_subtree_sexps(parser.parse(bytes(hyp_code, "utf8")).root_node))
        ref_sexps = _codebleu_subtree_sexps(parser.parse(bytes(ref_code, "utf8")).root_node)
        syn_match = sum(1 for s in ref_sexps if s in cand_sexps)
        dfg_parser = [parser, dfg_function[lang]]
        cand_dfg = normalize_dataflow(get_data_flow(hyp_code, dfg_parser))
        ref_dfg = normalize_dataflow(get_data_flow(ref_code, dfg_parser))
        df_match = 0
        for item in ref_dfg:
            if item in cand_dfg:
                df_match += 1
                cand_dfg.remove(item)
        out.append((float(ngram), float(weighted), syn_match, len(ref_sexps), df_match, len(ref_dfg)))
    return out


@register_metric("codebleu", higher_is_better=True, scale=1, languages=CODEBLEU_LANGS,
                 description="CodeBLEU (codebleu 0.7.0), components in extras; dataflow 0 counts as 1")
def codebleu(predictions: list[str], references: list[str], lang: str = "java",
             n_jobs: int | None = None,
             codebleu_weights: Sequence[float] = (0.25, 0.25, 0.25, 0.25)) -> MetricResult:
    from codebleu import bleu as cb_bleu
    from codebleu import weighted_ngram_match

    if lang not in CODEBLEU_LANGS:
        raise ValueError(f"codebleu: lang must be one of {', '.join(CODEBLEU_LANGS)}; got {lang!r}")
    alpha, beta, gamma, theta = codebleu_weights
    def corpus_ngram_parts() -> tuple[float, float]:
        # n-gram parts at corpus level with the package's own functions, here while workers parse
        hyps = [p.strip().split() for p in predictions]
        refs = [r.strip().split() for r in references]
        keywords = _codebleu_keywords(lang)
        return (cb_bleu.corpus_bleu([[r] for r in refs], hyps),
                weighted_ngram_match.corpus_bleu([_codebleu_weighted_refs(r, keywords) for r in refs], hyps))

    stats, (ngram, weighted) = map_chunks(codebleu_pair_stats,
                                          [(r, p, lang) for p, r in zip(predictions, references)], n_jobs,
                                          during=corpus_ngram_parts)
    syn_total = sum(s[3] for s in stats)
    syntax = sum(s[2] for s in stats) / syn_total if syn_total else 0.0
    df_total = sum(s[5] for s in stats)
    dataflow = sum(s[4] for s in stats) / df_total if df_total else 0.0
    total = alpha * ngram + beta * weighted + gamma * syntax + theta * (dataflow or 1)
    per = []
    for ng, wng, sm, st, dm, dt in stats:
        df = dm / dt if dt else 0.0
        per.append(alpha * ng + beta * wng + gamma * (sm / st if st else 0.0) + theta * (df or 1))
    if dataflow == 0:
        log.warning("codebleu: no reference data-flow in the corpus (lang=%s); data-flow match 0 counts as 1 "
                    "in the total, as in the codebleu package", lang)
    log.info("codebleu=%.4f ngram=%.4f weighted_ngram=%.4f syntax=%.4f dataflow=%.4f (lang=%s, n=%d)",
             total, ngram, weighted, syntax, dataflow, lang, len(per))
    extras = {"ngram_match": float(ngram), "weighted_ngram_match": float(weighted),
              "syntax_match": float(syntax), "dataflow_match": float(dataflow),
              "dataflow_zero_replaced": 1.0 if dataflow == 0 else 0.0}
    return MetricResult(float(total), per, extras,
                        {"lang": lang, "pythonhashseed": os.environ.get("PYTHONHASHSEED", "random")})


# ---------------------------------------------------------------- ROUGE-L, METEOR
def _rouge_l_chunk(pairs: list[tuple[str, str]]) -> list[float]:
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return [scorer.score(target=r, prediction=p)["rougeL"].fmeasure for p, r in pairs]


@register_metric("rouge_l", higher_is_better=True, scale=1,
                 description="rouge-score ROUGE-L F1, stemmed, averaged (keeps only [a-z0-9] runs)")
def rouge_l(predictions: list[str], references: list[str], n_jobs: int | None = None) -> MetricResult:
    per = [float(x) for x in map_chunks(_rouge_l_chunk, list(zip(predictions, references)), n_jobs)[0]]
    return MetricResult(sum(per) / len(per) if per else 0.0, per)


class WordNetMissingError(RuntimeError):
    """METEOR needs the WordNet 3.0 database and NLTK could not find it."""


def ensure_wordnet() -> None:
    """Fail with instructions when NLTK cannot load WordNet (METEOR's synonym stage)."""
    from nltk.corpus import wordnet

    try:
        wordnet.ensure_loaded()
    except LookupError as err:
        raise WordNetMissingError(
            "METEOR needs WordNet 3.0 for NLTK and none was found (searched NLTK_DATA and "
            "NLTK's default data dirs). Install it offline with `scripts/install_wordnet.sh "
            "[DIR]` (Debian packages wordnet-base + wordnet-sense-index, then "
            "`export NLTK_DATA=DIR`), or with network `python -m nltk.downloader wordnet`."
        ) from err


def wordnet_missing() -> str | None:
    """METEOR's ``check`` before a run: where NLTK finds no WordNet files (incl. ``lexnames``), the
    :func:`ensure_wordnet` message. Only looks for the files (loading WordNet takes seconds)."""
    import nltk

    try:
        nltk.data.find("corpora/wordnet/lexnames")
    except LookupError:
        try:
            nltk.data.find("corpora/wordnet.zip/wordnet/lexnames")
        except LookupError:
            try:
                ensure_wordnet()
            except WordNetMissingError as err:
                return str(err)
    return None


def _meteor_chunk(pairs: list[tuple[str, str]]) -> list[float]:
    from nltk.translate.meteor_score import meteor_score

    ensure_wordnet()
    return [float(meteor_score([r.split()], p.split())) for p, r in pairs]


@register_metric("meteor", higher_is_better=True, scale=1, check=wordnet_missing,
                 description="NLTK METEOR over whitespace tokens, averaged (WordNet 3.0 offline)")
def meteor(predictions: list[str], references: list[str], n_jobs: int | None = None) -> MetricResult:
    ensure_wordnet()
    per, _ = map_chunks(_meteor_chunk, list(zip(predictions, references)), n_jobs)
    return MetricResult(sum(per) / len(per) if per else 0.0, per)


# ---------------------------------------------------------------- exact and lenient matches
@register_metric("exact_match", higher_is_better=True, scale=1,
                 description="prediction equals reference after stripping surrounding whitespace")
def exact_match(predictions: list[str], references: list[str]) -> MetricResult:
    per = [1.0 if p.strip() == r.strip() else 0.0 for p, r in zip(predictions, references)]
    return MetricResult(sum(per) / len(per) if per else 0.0, per)


_WHITESPACE = re.compile(r"\s+")


def normalize_for_containment(text: str, lang: str = "java") -> str:
    """Remove comments (codebleu's ``remove_comments_and_docstrings``) and all whitespace."""
    from codebleu.parser import remove_comments_and_docstrings

    try:
        text = remove_comments_and_docstrings(text, lang)
    except Exception:
        pass
    return _WHITESPACE.sub("", text)


def containment_match(prediction: str, reference: str, lang: str = "java") -> bool:
    """EyeMulator's containment exact match on comment- and whitespace-free strings."""
    p, r = normalize_for_containment(prediction, lang), normalize_for_containment(reference, lang)
    if not p or not r:
        return p == r
    return p == r or p in r or r in p


@register_metric("containment_exact", higher_is_better=True, scale=1, languages="code",
                 description="EyeMulator: no comments/whitespace, equal or either contains the other")
def containment_exact(predictions: list[str], references: list[str], lang: str = "java") -> MetricResult:
    per = [1.0 if containment_match(p, r, lang) else 0.0 for p, r in zip(predictions, references)]
    return MetricResult(sum(per) / len(per) if per else 0.0, per)


@register_metric("h_exact", higher_is_better=True, scale=1, languages="code",
                 description="EyeMulator: 0.5 * exact_match + 0.5 * containment_exact")
def h_exact(predictions: list[str], references: list[str], lang: str = "java") -> MetricResult:
    exact = exact_match(predictions, references).per_example or []
    contain = containment_exact(predictions, references, lang).per_example or []
    per = [0.5 * e + 0.5 * c for e, c in zip(exact, contain)]
    return MetricResult(sum(per) / len(per) if per else 0.0, per)


# ---------------------------------------------------------------- edit similarity (code completion)
@register_metric("edit_similarity", higher_is_better=True, scale=100,
                 description="CodeXGLUE code completion Edit Sim: rapidfuzz fuzz.ratio (normalised InDel similarity)")
def edit_similarity(predictions: list[str], references: list[str]) -> MetricResult:
    from rapidfuzz import fuzz

    per = [float(fuzz.ratio(p.strip(), r.strip())) for p, r in zip(predictions, references)]
    return MetricResult(sum(per) / len(per) if per else 0.0, per)
