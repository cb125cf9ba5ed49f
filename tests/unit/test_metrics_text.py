"""Text/code metrics: values worked by hand from each definition, or equal to the package they wrap."""
from __future__ import annotations

import math
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

import gazelm.metrics as gm
from gazelm.registry import UnknownNameError

ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------ registry API
def test_unknown_metric_lists_known_names():
    with pytest.raises(UnknownNameError) as err:
        gm.score(["bleu"], ["a"], ["a"])
    assert "bleu_codexglue" in str(err.value) and "unknown metric 'bleu'" in str(err.value)
    with pytest.raises(UnknownNameError):
        gm.higher_is_better("nope")


def test_registry_meta_and_flat_score():
    assert gm.higher_is_better("codebleu") is True
    assert gm.metric_scale("bleu_codexglue") == 100 and gm.metric_scale("rouge_l") == 1
    flat = gm.score(["exact_match", "codebleu"], ["int x = 1;"], ["int x = 1;"], lang="java", n_jobs=1)
    assert set(flat) == {"exact_match", "codebleu", "codebleu/ngram_match", "codebleu/weighted_ngram_match",
                         "codebleu/syntax_match", "codebleu/dataflow_match", "codebleu/dataflow_zero_replaced"}
    assert flat["exact_match"] == 1.0


def test_option_no_metric_accepts_is_an_error():
    assert gm.score(["exact_match"], ["a"], ["a"], lang="java", n_jobs=2) == {"exact_match": 1.0}
    with pytest.raises(TypeError, match="option.s. lagn accepted by none"):
        gm.score(["codebleu"], ["a"], ["a"], lagn="java")


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        gm.compute("exact_match", ["a", "b"], ["a"])


# ------------------------------------------------------------------ CodeXGLUE code-to-code BLEU
def test_bleu_codexglue_one_pair_by_hand():
    # matches 3/4, 2/3, 1/2, 0/1 → add-one smoothed 4/5, 3/4, 2/3, 1/2; bp = 1
    r = gm.compute("bleu_codexglue", ["a b c e"], ["a b c d"])["bleu_codexglue"]
    assert r.value == pytest.approx(100 * (4 / 5 * 3 / 4 * 2 / 3 * 1 / 2) ** 0.25, abs=1e-12)


def test_bleu_codexglue_brevity_penalty_by_hand():
    # all orders smoothed to 1 (3-/4-grams: 0 possible → 1/1); ratio 2/4 → bp = e^(1-2)
    r = gm.compute("bleu_codexglue", ["a b"], ["a b c d"])["bleu_codexglue"]
    assert r.value == pytest.approx(100 * math.exp(-1), abs=1e-12)


def test_bleu_codexglue_is_corpus_level_by_hand():
    preds, refs = ["a b c e", "x y"], [" a b c d ", "x y"]
    # matches 5/6, 3/4, 1/2, 0/1 → 6/7, 4/5, 2/3, 1/2; lengths 6 = 6 → bp 1
    r = gm.compute("bleu_codexglue", preds, refs)["bleu_codexglue"]
    assert r.value == pytest.approx(100 * (6 / 7 * 4 / 5 * 2 / 3 * 1 / 2) ** 0.25, abs=1e-12)
    assert r.per_example[1] == pytest.approx(100.0)
    assert r.extras["brevity_penalty"] == 1.0


def test_exact_match_codexglue_strips_lines():
    r = gm.compute("exact_match_codexglue", [" a b ", "c"], ["a b", "d"])["exact_match_codexglue"]
    assert r.value == 50.0 and r.per_example == [100.0, 0.0]


# ------------------------------------------------------------------ code-to-text smoothed BLEU-4
def test_smoothed_bleu4_by_hand():
    # correct 3,2,1,0 of 4,3,2,1; unigram unsmoothed 3/4, then (2+1)/(3+1), (1+1)/(2+1), (0+1)/(1+1); bp 0
    r = gm.compute("smoothed_bleu4", ["a b c e"], ["a b c d"])["smoothed_bleu4"]
    assert r.value == pytest.approx(100 * (3 / 4 * 3 / 4 * 2 / 3 * 1 / 2) ** 0.25, abs=1e-9)


def test_smoothed_bleu4_normalisation_and_average():
    # lower-cased, punctuation split: "Return X;" == "return x ;" → 100.
    # "p q" vs "r s": unigrams (0 + tiny)/2, bigrams (0+1)/(1+1), 3-/4-grams (0+1)/(0+1), bp 0,
    # where tiny = sys.float_info.min keeps the log finite
    r = gm.compute("smoothed_bleu4", ["Return X;", "p q"], ["return x ;", "r s"])["smoothed_bleu4"]
    assert r.per_example[0] == pytest.approx(100.0)
    assert r.per_example[1] == pytest.approx(100 * (sys.float_info.min / 4) ** 0.25, rel=1e-9)
    assert r.value == pytest.approx(sum(r.per_example) / 2)


# ------------------------------------------------------------------ sacrebleu BLEU and chrF++
def test_bleu_sacre_matches_sacrebleu_and_logs_signature():
    import sacrebleu

    preds, refs = ["the cat sat on the mat", "a b c d e"], ["the cat sat on a mat", "a b c d e"]
    r = gm.compute("bleu_sacre", preds, refs)["bleu_sacre"]
    assert r.value == pytest.approx(sacrebleu.corpus_bleu(preds, [refs]).score)
    assert r.per_example[1] == pytest.approx(100.0)
    assert r.info["signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a")


def test_chrf_is_chrf_plus_plus():
    from sacrebleu.metrics import CHRF

    preds, refs = ["int x = 1;", "return a;"], ["int y = 1;", "return a;"]
    r = gm.compute("chrf", preds, refs)["chrf"]
    assert r.value == pytest.approx(CHRF(word_order=2).corpus_score(preds, [refs]).score)
    assert r.per_example[1] == pytest.approx(100.0)
    assert "nw:2" in r.info["signature"]


# ------------------------------------------------------------------ ROUGE-L
def test_rouge_l_by_hand_and_tokenizer_pitfall():
    r = gm.compute("rouge_l", ["the cat sat", "foo_bar(x)", "running"],
                   ["the cat sat on the mat", "foo bar x", "run"], n_jobs=1)["rouge_l"]
    # LCS 3: P = 3/3, R = 3/6 → F = 2/3; non-alphanumerics dropped; Porter stemming
    assert r.per_example == pytest.approx([2 / 3, 1.0, 1.0])
    assert r.value == pytest.approx((2 / 3 + 2) / 3)


# ------------------------------------------------------------------ METEOR
def _wordnet_available() -> bool:
    try:
        from nltk.corpus import wordnet

        wordnet.ensure_loaded()
        return True
    except LookupError:
        return False


@pytest.mark.skipif(not _wordnet_available(), reason="WordNet for NLTK missing: run scripts/install_wordnet.sh")
def test_meteor_fixed_pairs():
    r = gm.compute("meteor", ["the cat sat on the mat", "the cats sat"], ["the cat sat on the mat", "the cat sat"],
                   n_jobs=1)["meteor"]
    # identical 6 tokens: P = R = 1, one chunk → penalty 0.5·(1/6)^3
    assert r.per_example[0] == pytest.approx(1 - 0.5 * (1 / 6) ** 3)
    # "cats" ~ "cat" via the stem stage: 3 matches, one chunk → 1 − 0.5·(1/3)^3
    assert r.per_example[1] == pytest.approx(1 - 0.5 * (1 / 3) ** 3)


def test_meteor_without_wordnet_is_a_clear_error(tmp_path):
    # a fresh process whose NLTK search path holds no WordNet (.venv/nltk_data is a default path)
    code = ("import sys, nltk\n"
            "nltk.data.path[:] = [sys.argv[1]]\n"
            "import gazelm.metrics as m\n"
            "try:\n    m.score(['meteor'], ['a'], ['a'])\n"
            "except Exception as e:\n    print(type(e).__name__, e)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "none")], env=env, capture_output=True,
                         text=True, cwd=tmp_path, timeout=120)
    assert "WordNetMissingError" in out.stdout and "install_wordnet.sh" in out.stdout


# ------------------------------------------------------------------ exact and lenient matches
def test_containment_and_h_exact_cases():
    preds = ["int x = 1; // set x", "return a+b;", "", "foo", "x"]
    refs = ["int x=1;", "int f() { return a + b; }", "x", "bar", "x"]
    c = gm.compute(["exact_match", "containment_exact", "h_exact"], preds, refs, lang="java")
    assert c["exact_match"].per_example == [0.0, 0.0, 0.0, 0.0, 1.0]
    assert c["containment_exact"].per_example == [1.0, 1.0, 0.0, 0.0, 1.0]
    assert c["h_exact"].per_example == [0.5, 0.5, 0.0, 0.0, 1.0]
    assert c["h_exact"].value == pytest.approx(2 / 5)


# ------------------------------------------------------------------ CodeBLEU equals the package
def _perturb(text: str, rng: random.Random) -> str:
    toks = text.split()
    for _ in range(max(1, len(toks) // 6)):
        i = rng.randrange(len(toks))
        op = rng.random()
        if op < 0.4:
            del toks[i]
        elif op < 0.7:
            toks.insert(i, rng.choice(toks))
        else:
            toks[i] = "tmp"
        if not toks:
            break
    return " ".join(toks)


def _codebleu_pairs(data_dir: Path, lang: str) -> tuple[list[str], list[str]]:
    rng = random.Random(7)
    if lang == "python":
        import gzip
        import json

        with gzip.open(data_dir / "humaneval" / "HumanEval.jsonl.gz", "rt") as f:
            refs = [json.loads(line)["prompt"] + json.loads(line)["canonical_solution"] for line in f][:30]
    else:
        ext = "cs" if lang == "c_sharp" else "java"
        refs = (data_dir / "codexglue-java-cs" / f"test.java-cs.txt.{ext}").read_text().splitlines()[:40]
    return [_perturb(r, rng) for r in refs], refs


@pytest.mark.parametrize("lang", ["java", "c_sharp", "python"])
def test_codebleu_equals_package(data_dir, lang):
    from codebleu import calc_codebleu

    preds, refs = _codebleu_pairs(data_dir, lang)
    expected = calc_codebleu(refs, preds, lang)
    for n_jobs in (1, 2):
        r = gm.compute("codebleu", preds, refs, lang=lang, n_jobs=n_jobs)["codebleu"]
        assert r.value == pytest.approx(expected["codebleu"], abs=1e-12)
        assert r.extras["ngram_match"] == pytest.approx(expected["ngram_match_score"], abs=1e-12)
        assert r.extras["weighted_ngram_match"] == pytest.approx(expected["weighted_ngram_match_score"], abs=1e-12)
        assert r.extras["syntax_match"] == pytest.approx(expected["syntax_match_score"], abs=1e-12)
        assert r.extras["dataflow_match"] == pytest.approx(expected["dataflow_match_score"], abs=1e-12)
    for i in range(3):
        single = calc_codebleu([refs[i]], [preds[i]], lang)["codebleu"]
        assert r.per_example[i] == pytest.approx(single, abs=1e-12)


def test_codebleu_dataflow_zero_counts_as_one():
    from codebleu import calc_codebleu

    preds, refs = ["pass", "return"], ["pass", "return"]
    r = gm.compute("codebleu", preds, refs, lang="python")["codebleu"]
    assert r.extras["dataflow_match"] == 0.0 and r.extras["dataflow_zero_replaced"] == 1.0
    assert r.value == pytest.approx(calc_codebleu(refs, preds, "python")["codebleu"], abs=1e-12)
    assert r.value == pytest.approx(0.25 * (r.extras["ngram_match"] + r.extras["weighted_ngram_match"]
                                            + r.extras["syntax_match"] + 1.0))


def test_codebleu_rejects_unsupported_language():
    with pytest.raises(ValueError, match="lang must be one of java, python, c_sharp"):
        gm.compute("codebleu", ["x"], ["x"], lang="cobol")


def test_parallel_chunks_keep_order_and_values():
    rng = random.Random(1)
    words = "int x y return if else for while foo bar baz".split()
    refs = [" ".join(rng.choice(words) for _ in range(rng.randint(3, 12))) for _ in range(30)]
    preds = [_perturb(r, rng) for r in refs]
    one = gm.compute(["bleu_sacre", "chrf", "rouge_l"], preds, refs, n_jobs=1)
    two = gm.compute(["bleu_sacre", "chrf", "rouge_l"], preds, refs, n_jobs=2)
    for name in one:
        assert two[name].value == pytest.approx(one[name].value, abs=1e-12)
        assert two[name].per_example == pytest.approx(one[name].per_example, abs=1e-12)


def test_install_wordnet_script_writes_lexnames(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "data.noun").write_text("fake\n")
    (src / "index.noun").write_text("fake\n")
    env = {**os.environ, "WORDNET_SRC": str(src)}
    res = subprocess.run(["bash", str(ROOT / "scripts" / "install_wordnet.sh"), str(tmp_path / "nltk")], env=env,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    dest = tmp_path / "nltk" / "corpora" / "wordnet"
    rows = (dest / "lexnames").read_text().splitlines()
    assert len(rows) == 45
    assert rows[0] == "00\tadj.all\t3" and rows[3] == "03\tnoun.Tops\t1" and rows[29] == "29\tverb.body\t2"
    assert rows[44] == "44\tadj.ppl\t3"
    assert (dest / "data.noun").read_text() == "fake\n"


# ---------------------------------------------------------------- edit similarity, metric languages
def test_edit_similarity_is_the_normalised_indel_similarity_by_hand():
    # 100·(1 − d/(|a|+|b|)), d = insertions + deletions (LCS-based):
    # abc/abd: d = 2 (drop c, add d) → 4/6; kitten/sitting: LCS "ittn" = 4, d = 6 + 7 − 8 = 5 → 8/13;
    # stripped equal → 100; empty vs text → 0
    preds, refs = ["abc", "kitten", "  x = 1\n", ""], ["abd", "sitting", "x = 1", "abc"]
    result = gm.compute("edit_similarity", preds, refs)["edit_similarity"]
    expected = [100 * 4 / 6, 100 * 8 / 13, 100.0, 0.0]
    assert result.per_example == pytest.approx(expected)
    assert result.value == pytest.approx(sum(expected) / 4)
    assert gm.metric_scale("edit_similarity") == 100 and gm.higher_is_better("edit_similarity")


def test_edit_similarity_is_levenshtein_ratio_not_difflib():
    # LCS("ccbcaa", "bcbbbcc") = 3 ("cbc") → 100·(1 − 7/13); difflib's Ratcliff–Obershelp finds 2 → 4/13
    value = gm.compute("edit_similarity", ["ccbcaa"], ["bcbbbcc"])["edit_similarity"].value
    assert value == pytest.approx(100 * 6 / 13)


@pytest.mark.parametrize("metric,language,applies", [
    ("codebleu", "c_sharp", True), ("codebleu", "text", False), ("codebleu", "go", False),
    ("containment_exact", "java", True), ("h_exact", "text", False), ("containment_exact", "go", True),
    ("rouge_l", "text", True), ("edit_similarity", "python", True), ("bleu_sacre", None, True),
])
def test_metrics_declare_the_target_languages_they_apply_to(metric, language, applies):
    assert gm.metric_applies(metric, language) is applies
