"""Gaze data side vs. the tiny model's training throughput, on the EyeMulator corpus rows.

Two arms in their own processes, timed in shuffled rounds (``interleave.py``):

* ``pipeline`` (one thread): tree-sitter labelling + pseudo-scanpath from the EyeMulator release
  priors + EyeMulator weights + projection onto the subwords of a BPE tokenizer (offset
  mapping), i.e. what ``gaze=eyemulator_priors`` adds per example, uncached (the provider's
  cache is off, so every step pays a first pass); one step = 50 rows;
* ``training``: plain torch training steps (forward, backward, AdamW) of a tiny T5 built from
  config (d_model 64, 2 layers) at batch 16, source length ≤ 256, on the same rows, one thread
  (``GAZELM_BENCH_TRAIN_THREADS`` to change); one step = one batch.

Then, one after the other (a cache can only be compared with the pass that filled it): how much
faster a cached re-run of the pipeline and of the DataModule's tokenized data is.

    python benchmarks/gaze_pipeline.py [--rows 600] [--rounds 8]

Last line: ``RATIO <pipeline examples/s ÷ training examples/s>`` (target ≥ 20).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from interleave import pull_loop, report, run_rounds, serve, worker_arm  # noqa: E402

PIPELINE_ROWS_PER_STEP = 50


def load_rows(data_dir: Path, n: int) -> list[dict]:
    rows = []
    for name in ("translation_test_final.jsonl", "summarization_test_final.jsonl",
                 "translation_valid_final.jsonl", "summarization_valid_final.jsonl"):
        with open(data_dir / "eyemulator" / "corpus" / "data" / name, encoding="utf-8") as fh:
            for line in fh:
                rows.append(json.loads(line))
                if len(rows) >= n:
                    return rows
    return rows


def train_tokenizer(texts: list[str]):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=2000, special_tokens=["<pad>", "</s>", "<unk>"]))
    return tok


def pipeline_pass(provider, tok, rows) -> float:
    from gazelm.gaze.project import project_token_values

    t0 = time.perf_counter()
    for r in rows:
        ann = provider.annotate(r["code"], "java", r.get("code_content_hash", ""))
        enc = tok.encode(r["code"])
        if ann is not None:
            project_token_values(enc.offsets[:256], ann.spans, ann.weights, 1.0)
    return time.perf_counter() - t0


def training_arm(tok, rows, batch: int = 16):
    """One plain torch training step of the tiny T5 per call (returns the examples it saw)."""
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    cfg = T5Config(vocab_size=tok.get_vocab_size(), d_model=64, d_kv=16, d_ff=128, num_layers=2,
                   num_decoder_layers=2, num_heads=4, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
    model = T5ForConditionalGeneration(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def batch_at(i: int):
        chunk = [rows[(i * batch + k) % len(rows)] for k in range(batch)]
        src = [tok.encode(r["code"]).ids[:255] + [1] for r in chunk]
        tgt = [tok.encode(r["content"]).ids[:127] + [1] for r in chunk]
        pad = lambda seqs, fill: torch.tensor([s + [fill] * (max(map(len, seqs)) - len(s)) for s in seqs])  # noqa
        ids, labels = pad(src, 0), pad(tgt, -100)
        return ids, (ids != 0).long(), labels

    batches = [batch_at(i) for i in range(len(rows) // batch)]
    model.train()
    state = {"i": 0}

    def step() -> float:
        ids, att, labels = batches[state["i"] % len(batches)]
        state["i"] += 1
        model(input_ids=ids, attention_mask=att, labels=labels).loss.backward()
        opt.step()
        opt.zero_grad()
        return batch

    return step


def pipeline_arm(args, data_dir: Path, tok, rows):
    """The gaze data side on the next rows, with the provider's cache off (a first pass each time)."""
    from gazelm.gaze.project import project_token_values
    from gazelm.gaze.providers import EyeMulatorPriorsProvider

    provider = EyeMulatorPriorsProvider(priors="combined", data_dir=str(data_dir), cache_size=0)
    state = {"i": 0}

    def step() -> float:
        for _ in range(PIPELINE_ROWS_PER_STEP):
            r = rows[state["i"] % len(rows)]
            state["i"] += 1
            ann = provider.annotate(r["code"], "java", r.get("code_content_hash", ""))
            enc = tok.encode(r["code"])
            if ann is not None:
                project_token_values(enc.offsets[:256], ann.spans, ann.weights, 1.0)
        return PIPELINE_ROWS_PER_STEP

    return step


def build_arm(args, arm: str):
    import torch

    from gazelm.config import default_data_dir

    data_dir = Path(args.data_dir or default_data_dir())
    rows = load_rows(data_dir, args.rows)
    tok = train_tokenizer([r["code"] for r in rows] + [r["content"] for r in rows])
    if arm == "pipeline":
        torch.set_num_threads(1)
        return pull_loop(pipeline_arm(args, data_dir, tok, rows))
    # one thread by default: on a shared 2-core machine two torch threads were 15x slower per step
    # than one (oversubscription); GAZELM_BENCH_TRAIN_THREADS=N measures N threads
    torch.set_num_threads(int(os.environ.get("GAZELM_BENCH_TRAIN_THREADS", "1")))
    return pull_loop(training_arm(tok, rows))


def datamodule_passes(data_dir: Path, tok, n: int) -> tuple[float, float]:
    """The whole data side as training runs it: a ``GazeDataModule`` with the provider encodes
    the rows and writes its tokenized cache; a new DataModule (a re-run) reads that cache."""
    import tempfile

    from gazelm.data.datamodule import GazeDataModule
    from gazelm.gaze.providers import EyeMulatorPriorsProvider

    source = {"name": "eyemulator_jsonl", "file": str(data_dir / "eyemulator" / "corpus" / "data" /
                                                         "translation_test_final.jsonl"), "max_examples": {"test": n}}
    task = {"name": "translation", "max_source_length": 256, "max_target_length": 128}
    times = []
    with tempfile.TemporaryDirectory() as cache:
        for _ in range(2):
            provider = EyeMulatorPriorsProvider(priors="combined", data_dir=str(data_dir))
            dm = GazeDataModule(source, task, gaze=provider, cache_dir=cache, gaze_key="eyemulator_priors")
            dm.attach_tokenizer(tok, causal=False, identity="bench")
            t0 = time.perf_counter()
            dm.split_features("test")
            times.append(time.perf_counter() - t0)
    return times[0], times[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--steps", type=int, default=2, help="steps per arm per round")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    arm = worker_arm()
    if arm:
        serve(lambda gate: build_arm(args, arm)(gate))
        return
    import torch

    from gazelm.config import default_data_dir
    from gazelm.gaze.providers import EyeMulatorPriorsProvider

    data_dir = Path(args.data_dir or default_data_dir())
    rows = load_rows(data_dir, args.rows)
    tok = train_tokenizer([r["code"] for r in rows] + [r["content"] for r in rows])

    torch.set_num_threads(1)
    provider = EyeMulatorPriorsProvider(priors="combined", data_dir=str(data_dir))
    first = pipeline_pass(provider, tok, rows)
    cached = pipeline_pass(provider, tok, rows)
    only_gaze_first = time.perf_counter()
    fresh = EyeMulatorPriorsProvider(priors="combined", data_dir=str(data_dir))
    for r in rows:
        fresh.annotate(r["code"], "java", "")
    only_gaze_first = time.perf_counter() - only_gaze_first
    t0 = time.perf_counter()
    for r in rows:
        fresh.annotate(r["code"], "java", "")
    only_gaze_cached = time.perf_counter() - t0
    from gazelm.data.tokenizer_training import train_bpe_tokenizer

    hf_tok = train_bpe_tokenizer([r["code"] for r in rows] + [r["content"] for r in rows], vocab_size=4096)
    dm_first, dm_cached = datamodule_passes(data_dir, hf_tok, len(rows))

    print(f"rows: {len(rows)} EyeMulator corpus rows (Java), torch {torch.__version__}")
    print(f"pipeline re-run with cache (incl. tokenizer + projection): {len(rows) / cached:,.0f} examples/s "
          f"({first / cached:.1f}x the first pass, {len(rows) / first:,.0f} examples/s)")
    print(f"DataModule (gaze + tokenize + project, tokenized cache on disk): first {dm_first:.2f} s, "
          f"re-run in a new DataModule from the cache {dm_cached:.3f} s ({dm_first / dm_cached:.0f}x)")
    print(f"gaze provider alone: first {len(rows) / only_gaze_first:,.0f} ex/s, cached "
          f"{len(rows) / only_gaze_cached:,.0f} ex/s ({only_gaze_first / only_gaze_cached:.0f}x)")
    print(f"interleaved: pipeline (1 thread, uncached, {PIPELINE_ROWS_PER_STEP} rows a step) vs tiny T5 training "
          f"(d_model 64, 2 layers, batch 16, src<=256, {os.environ.get('GAZELM_BENCH_TRAIN_THREADS', '1')} threads)")
    result = run_rounds(["pipeline", "training"], rounds=args.rounds, steps=args.steps, warmup=1)
    report(result, "pipeline", ["training"], "examples")


if __name__ == "__main__":
    main()
