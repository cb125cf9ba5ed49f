"""Evaluation speed: gazelm's metric evaluator vs calling the packages pair by pair, and
batched vs one-at-a-time generation with a tiny T5.

    python benchmarks/eval_speed.py [--pairs 1000] [--n-jobs 0] [--gen-inputs 64] [--batch 16]

Metrics part (no model): CodeBLEU + BLEU + ROUGE-L over N prediction/reference pairs,
references = CodeXGLUE Java→C# test lines, predictions = token-level perturbations of them.
Both sides produce per-example scores for all three metrics:

* loop: ``codebleu.calc_codebleu([r], [p], "c_sharp")``, ``sacrebleu.sentence_bleu`` and one
  ``rouge_scorer.RougeScorer.score`` per pair (what a script would otherwise do);
* gazelm: ``gazelm.metrics.compute(["codebleu", "bleu_sacre", "rouge_l"], ...)``, which also
  returns the corpus values (CodeBLEU chunked over processes, sufficient statistics summed).

The package's own corpus-level ``calc_codebleu`` (one call, no per-example scores) is timed too.
Generation part: greedy ``generate`` (KV cache) of a tiny T5 built from config with a
tokenizer trained here, batched vs one input at a time. Last line: ``RATIO <loop ÷ gazelm>``
for the metrics part.
"""
from __future__ import annotations

import argparse
import logging
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def data_dir() -> Path:
    return Path(os.environ.get("GAZELM_DATA_DIR") or ROOT.parent / "shared" / "data")


def perturb(text: str, rng: random.Random) -> str:
    toks = text.split()
    for _ in range(max(1, len(toks) // 8)):
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


def load_pairs(n: int) -> tuple[list[str], list[str]]:
    refs = (data_dir() / "codexglue-java-cs" / "test.java-cs.txt.cs").read_text(encoding="utf-8").splitlines()
    refs = (refs * (n // len(refs) + 1))[:n]
    rng = random.Random(0)
    return [perturb(r, rng) for r in refs], refs


def bench_metrics(preds: list[str], refs: list[str], n_jobs: int | None) -> float:
    import sacrebleu
    from codebleu import calc_codebleu
    from rouge_score import rouge_scorer

    import gazelm.metrics as gm

    load = os.getloadavg()
    logging.disable(logging.WARNING)  # codebleu warns on every pair without reference data-flow
    t0 = time.perf_counter()
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    loop = [(calc_codebleu([r], [p], "c_sharp")["codebleu"], sacrebleu.sentence_bleu(p, [r]).score,
             scorer.score(r, p)["rougeL"].fmeasure) for p, r in zip(preds, refs)]
    t_loop = time.perf_counter() - t0

    t0 = time.perf_counter()
    corpus_pkg = calc_codebleu(refs, preds, "c_sharp")["codebleu"]
    t_pkg_corpus = time.perf_counter() - t0

    from gazelm.metrics.text import resolve_n_jobs

    names = ["codebleu", "bleu_sacre", "rouge_l"]
    t0 = time.perf_counter()
    gm.compute(names, preds, refs, lang="c_sharp", n_jobs=1)
    t_gazelm_1 = time.perf_counter() - t0

    t0 = time.perf_counter()
    gm.compute(names, preds, refs, lang="c_sharp", n_jobs=-1)
    t_gazelm_all = time.perf_counter() - t0

    jobs = resolve_n_jobs(n_jobs, len(preds))

    t0 = time.perf_counter()
    res = gm.compute(names, preds, refs, lang="c_sharp", n_jobs=n_jobs)
    t_gazelm = time.perf_counter() - t0
    logging.disable(logging.NOTSET)

    assert abs(res["codebleu"].value - corpus_pkg) < 1e-12, (res["codebleu"].value, corpus_pkg)
    assert all(abs(a - b[0]) < 1e-9 for a, b in zip(res["codebleu"].per_example, loop))
    assert all(abs(a - b[2]) < 1e-12 for a, b in zip(res["rouge_l"].per_example, loop))
    print(f"metrics: {len(preds)} pairs, CodeBLEU + BLEU + ROUGE-L, per-example scores, "
          f"cores={os.cpu_count()}, n_jobs={n_jobs}, load average before: {load[0]:.1f}")
    print(f"  loop (packages pair by pair)         {t_loop:8.2f} s")
    print(f"  gazelm.metrics.compute (n_jobs={n_jobs} -> {jobs} workers) {t_gazelm:8.2f} s   (+ corpus values)")
    print(f"  gazelm.metrics.compute, n_jobs=1     {t_gazelm_1:8.2f} s")
    print(f"  gazelm.metrics.compute, n_jobs=-1    {t_gazelm_all:8.2f} s   (all {resolve_n_jobs(-1, len(preds))} cores)")
    print(f"  codebleu.calc_codebleu corpus only   {t_pkg_corpus:8.2f} s   (no per-example scores)")
    print(f"  corpus CodeBLEU equal: {res['codebleu'].value:.6f} == {corpus_pkg:.6f}")
    return t_loop / t_gazelm


def bench_generation(n_inputs: int, batch: int, max_new_tokens: int) -> None:
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    java = (data_dir() / "codexglue-java-cs" / "train.java-cs.txt.java").read_text(encoding="utf-8").splitlines()
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(java[:2000], trainers.BpeTrainer(vocab_size=2000,
                                                            special_tokens=["<pad>", "</s>", "<unk>"]))
    with tempfile.TemporaryDirectory() as d:
        tok.save(f"{d}/tokenizer.json")
        hf_tok = PreTrainedTokenizerFast(tokenizer_file=f"{d}/tokenizer.json", pad_token="<pad>",
                                         eos_token="</s>", unk_token="<unk>")
    cfg = T5Config(vocab_size=len(hf_tok), d_model=128, d_ff=256, num_layers=2, num_decoder_layers=2,
                   num_heads=4, d_kv=32, pad_token_id=hf_tok.pad_token_id, eos_token_id=hf_tok.eos_token_id,
                   decoder_start_token_id=hf_tok.pad_token_id)
    model = T5ForConditionalGeneration(cfg).eval()
    inputs = java[:n_inputs]
    kw = dict(max_new_tokens=max_new_tokens, min_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
              use_cache=True)
    with torch.inference_mode():
        t0 = time.perf_counter()
        for text in inputs:
            enc = hf_tok([text], return_tensors="pt", truncation=True, max_length=256)
            model.generate(**enc, **kw)
        t_one = time.perf_counter() - t0
        t0 = time.perf_counter()
        for i in range(0, len(inputs), batch):
            enc = hf_tok(inputs[i:i + batch], return_tensors="pt", padding=True, truncation=True, max_length=256)
            model.generate(**enc, **kw)
        t_batch = time.perf_counter() - t0
    print(f"generation: tiny T5 ({sum(p.numel() for p in model.parameters()) / 1e6:.2f} M params), "
          f"{n_inputs} inputs, greedy, {max_new_tokens} new tokens, torch threads={torch.get_num_threads()}")
    print(f"  one at a time                        {t_one:8.2f} s")
    print(f"  batched (batch {batch:3d})                  {t_batch:8.2f} s")
    print(f"  generation speed-up                  {t_one / t_batch:8.2f} x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=int, default=1000)
    ap.add_argument("--n-jobs", type=int, default=0, help="0 = auto (idle cores), -1 = all cores")
    ap.add_argument("--gen-inputs", type=int, default=32)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=16)
    ap.add_argument("--skip-generation", action="store_true")
    args = ap.parse_args()
    preds, refs = load_pairs(args.pairs)
    if not args.skip_generation:
        bench_generation(args.gen_inputs, args.batch, args.max_new_tokens)
    ratio = bench_metrics(preds, refs, args.n_jobs)
    print(f"RATIO {ratio:.2f}")


if __name__ == "__main__":
    main()
