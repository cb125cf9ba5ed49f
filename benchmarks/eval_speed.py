"""Evaluation speed: gazelm's metric evaluator vs calling the packages pair by pair, and batched
vs one-at-a-time generation with a tiny T5 — arms interleaved in rounds (``interleave.py``).

    python benchmarks/eval_speed.py [--pairs 300] [--workers 2] [--rounds 8] [--gen-inputs 16]

Metrics (no model): CodeBLEU + BLEU + ROUGE-L with per-example scores over ``--pairs``
prediction/reference pairs per step (references: CodeXGLUE Java→C# test lines, cycled;
predictions: seeded token-level perturbations of them). Arms:

* ``loop``    — ``codebleu.calc_codebleu([r], [p], "c_sharp")``, ``sacrebleu.sentence_bleu`` and one
                ``RougeScorer.score`` per pair (what a script would otherwise do);
* ``gazelm``  — ``gazelm.metrics.compute([...], n_jobs=--workers)``: per-example scores plus the
                corpus values (CodeBLEU chunked over worker processes, statistics summed). The
                worker count is fixed by the benchmark (default 2), never inferred from the load;
* ``corpus``  — ``codebleu.calc_codebleu`` once on the chunk (corpus value only; reference row).

Before the rounds the script checks, on one chunk, that gazelm's corpus CodeBLEU equals the
package's and its per-example CodeBLEU / ROUGE-L equal the loop's.

Generation: greedy ``generate`` (KV cache) of a tiny T5 built from config with a tokenizer
trained here: ``gen_batched`` (batches of ``--batch``) vs ``gen_one`` (one input at a time).

Last line: ``RATIO <gazelm pairs/s ÷ loop pairs/s>`` (median of per-round ratios).
"""
from __future__ import annotations

import argparse
import logging
import os
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from interleave import pull_loop, report, run_rounds, serve, worker_arm  # noqa: E402

NAMES = ["codebleu", "bleu_sacre", "rouge_l"]


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


def chunks(preds: list[str], refs: list[str], size: int):
    """Endless consecutive chunks of ``size`` pairs (the same sequence in every arm)."""
    start = 0
    while True:
        idx = [(start + i) % len(preds) for i in range(size)]
        yield [preds[i] for i in idx], [refs[i] for i in idx]
        start = (start + size) % len(preds)


def loop_scores(preds: list[str], refs: list[str]) -> list[tuple[float, float, float]]:
    import sacrebleu
    from codebleu import calc_codebleu
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return [(calc_codebleu([r], [p], "c_sharp")["codebleu"], sacrebleu.sentence_bleu(p, [r]).score,
             scorer.score(r, p)["rougeL"].fmeasure) for p, r in zip(preds, refs)]


def check_same_scores(preds: list[str], refs: list[str], workers: int) -> None:
    from codebleu import calc_codebleu

    import gazelm.metrics as gm

    res = gm.compute(NAMES, preds, refs, lang="c_sharp", n_jobs=workers)
    loop = loop_scores(preds, refs)
    corpus = calc_codebleu(refs, preds, "c_sharp")["codebleu"]
    assert abs(res["codebleu"].value - corpus) < 1e-12, (res["codebleu"].value, corpus)
    assert all(abs(a - b[0]) < 1e-9 for a, b in zip(res["codebleu"].per_example, loop))
    assert all(abs(a - b[2]) < 1e-12 for a, b in zip(res["rouge_l"].per_example, loop))
    print(f"checked on {len(preds)} pairs: corpus CodeBLEU {res['codebleu'].value:.6f} == package's, "
          "per-example CodeBLEU and ROUGE-L == the loop's")


def metric_arm(args, arm: str):
    from codebleu import calc_codebleu

    import gazelm.metrics as gm

    logging.disable(logging.WARNING)  # codebleu warns on every pair without reference data-flow
    source = chunks(*load_pairs(args.pairs_total), args.pairs)

    def step() -> float:
        preds, refs = next(source)
        if arm == "loop":
            loop_scores(preds, refs)
        elif arm == "gazelm":
            gm.compute(NAMES, preds, refs, lang="c_sharp", n_jobs=args.workers)
        else:
            calc_codebleu(refs, preds, "c_sharp")
        return len(preds)

    return pull_loop(step)


def generation_arm(args, arm: str):
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
    inputs = java[:args.gen_inputs]
    kw = dict(max_new_tokens=args.max_new_tokens, min_new_tokens=args.max_new_tokens, do_sample=False,
              num_beams=1, use_cache=True)
    batch = args.batch if arm == "gen_batched" else 1

    @torch.inference_mode()
    def step() -> float:
        for i in range(0, len(inputs), batch):
            enc = hf_tok(inputs[i:i + batch], return_tensors="pt", padding=True, truncation=True, max_length=256)
            model.generate(**enc, **kw)
        return len(inputs)

    return pull_loop(step)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=int, default=300, help="pairs scored per step")
    ap.add_argument("--pairs-total", type=int, default=1000, help="distinct pairs cycled through")
    ap.add_argument("--workers", type=int, default=2, help="gazelm's metric worker processes (fixed)")
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--steps", type=int, default=1, help="steps per arm per round")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (generation)")
    ap.add_argument("--gen-inputs", type=int, default=16)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=16)
    ap.add_argument("--skip-generation", action="store_true")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    arm = worker_arm()
    if arm:
        import torch

        torch.set_num_threads(args.threads)
        build = generation_arm if arm.startswith("gen_") else metric_arm
        serve(lambda gate: build(args, arm)(gate))  # built inside serve: its output stays off the protocol
        return
    if not args.skip_generation:
        print(f"generation: tiny T5, {args.gen_inputs} inputs per step, greedy, {args.max_new_tokens} new tokens, "
              f"{args.threads} torch threads")
        gen = run_rounds(["gen_batched", "gen_one"], rounds=args.rounds, steps=args.steps, warmup=1)
        report(gen, "gen_batched", ["gen_one"], "inputs", label="generation")
    preds, refs = load_pairs(args.pairs)
    logging.disable(logging.WARNING)
    check_same_scores(preds, refs, args.workers)
    logging.disable(logging.NOTSET)
    print(f"metrics: {args.pairs} pairs per step, CodeBLEU + BLEU + ROUGE-L with per-example scores, "
          f"gazelm with {args.workers} worker processes, {os.cpu_count()} cores")
    result = run_rounds(["gazelm", "loop", "corpus"], rounds=args.rounds, steps=args.steps, warmup=1)
    report(result, "gazelm", ["loop"], "pairs", references=["corpus"])


if __name__ == "__main__":
    main()
