"""gazelm's training loop vs Hugging Face ``Seq2SeqTrainer`` / ``Trainer``, side by side.

Same tiny model (same init), data (python_stdlib summarization, or completion for the
causal model), batch size, max lengths, learning rate and number of steps. Each arm runs
in its own process so its peak memory (RSS on CPU, max allocated on GPU) is its own.
Tokens/s counts non-pad tokens (encoder input + labels; for causal models the sequence).
HF runs as a user would by default (random batches, padded per batch); a third column
shows HF with ``train_sampling_strategy="group_by_length"`` for reference.

    python benchmarks/train_throughput.py [--steps 60] [--batch-size 16] [--kind seq2seq|causal]
    python benchmarks/train_throughput.py --gpu   # ~350M random-init causal LM, bf16, MFU

The last line is ``RATIO <gazelm tokens/s ÷ HF tokens/s>``.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GPU_MODEL = {"model_type": "llama", "hidden_size": 1024, "intermediate_size": 2816, "num_hidden_layers": 24,
             "num_attention_heads": 16, "num_key_value_heads": 16, "max_position_embeddings": 2048,
             "tie_word_embeddings": True}


def _overrides(args) -> list[str]:
    model = "tiny_t5" if args.kind == "seq2seq" else "tiny_causal"
    task = "summarization" if args.kind == "seq2seq" else "completion"
    out = [f"model={model}", f"task={task}", f"data.batch_size={args.batch_size}", "model.config.dropout_rate=0.0"
           if args.kind == "seq2seq" else "+model.config.attention_dropout=0.0",
           f"data.source.max_examples={{train: {args.examples}, val: 8, test: 8}}", "model.tokenizer.vocab_size=4096"]
    if args.gpu:
        spec = ",".join(f"{k}:{str(v).lower() if isinstance(v, bool) else v}" for k, v in GPU_MODEL.items())
        out += [f"model.config={{{spec}}}", "trainer=gpu", "model.tokenizer.vocab_size=32000"]
    return out


def _components(args):
    from omegaconf import open_dict

    from gazelm.training import build_components
    from tests.helpers.compose import train_config

    cache = ROOT / ".cache" / "bench"
    cfg = train_config(Path(os.environ.get("TMPDIR", "/tmp")) / "gazelm-bench", cache, *_overrides(args))
    with open_dict(cfg):
        cfg.seed = 0
    import lightning as L

    L.seed_everything(0, verbose=False)
    datamodule, module = build_components(cfg)
    datamodule.setup("fit")
    return cfg, datamodule, module


def _count(batch, causal: bool) -> int:
    n = int(batch["attention_mask"].sum())
    return n if causal else n + int((batch["labels"] != -100).sum())


def _peak_mb(device: str) -> float:
    import torch

    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_gazelm(args) -> dict:
    import lightning as L
    import torch

    cfg, datamodule, module = _components(args)
    causal = module.backbone.is_causal
    stats = {"tokens": 0, "start": None}

    class Meter(L.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            if batch_idx == args.warmup:
                if torch.cuda.is_available():
                    torch.cuda.synchronize()
                stats["start"] = time.perf_counter()
            if batch_idx >= args.warmup:
                stats["tokens"] += _count(batch, causal)

    trainer = L.Trainer(max_steps=args.steps + args.warmup, accelerator="gpu" if args.gpu else "cpu", devices=1,
                        precision="bf16-mixed" if args.gpu else "32-true", logger=False, callbacks=[Meter()],
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        limit_val_batches=0, use_distributed_sampler=False, gradient_clip_val=1.0)
    trainer.fit(module, datamodule=datamodule)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    seconds = time.perf_counter() - stats["start"]
    params = sum(p.numel() for p in module.parameters())
    return {"tokens_per_s": stats["tokens"] / seconds, "seconds": seconds, "tokens": stats["tokens"],
            "peak_mb": _peak_mb("cuda" if args.gpu else "cpu"), "params": params}


def run_hf(args, group_by_length: bool = False) -> dict:
    import torch
    from transformers import (DataCollatorForSeq2Seq, Seq2SeqTrainer, Seq2SeqTrainingArguments, Trainer,
                              TrainerCallback, TrainingArguments)

    cfg, datamodule, module = _components(args)
    model, tok, causal = module.backbone.model, module.backbone.tokenizer, module.backbone.is_causal
    rows = [{"input_ids": f["input_ids"].tolist(), "labels": f["labels"].tolist()}
            for f in datamodule.split_features("train")]
    base = DataCollatorForSeq2Seq(tok, model=None if causal else model, label_pad_token_id=-100)
    stats = {"tokens": 0, "start": None, "step": 0}

    def collate(features):
        batch = base(features)
        if stats["step"] >= args.warmup:
            stats["tokens"] += _count(batch, causal)
        return batch

    class Meter(TrainerCallback):
        def on_step_begin(self, a, state, control, **kw):
            stats["step"] = state.global_step
            if state.global_step == args.warmup:
                if torch.cuda.is_available():
                    torch.cuda.synchronize()
                stats["start"] = time.perf_counter()

    common = dict(output_dir=str(ROOT / ".cache" / "bench" / "hf"), per_device_train_batch_size=args.batch_size,
                  max_steps=args.steps + args.warmup, learning_rate=cfg.optim.lr, weight_decay=cfg.optim.weight_decay,
                  warmup_steps=int(cfg.scheduler.warmup_ratio * (args.steps + args.warmup)), lr_scheduler_type="cosine", max_grad_norm=1.0,
                  logging_strategy="no", save_strategy="no", report_to=[], seed=0, dataloader_num_workers=0,
                  train_sampling_strategy="group_by_length" if group_by_length else "random", bf16=args.gpu, use_cpu=not args.gpu, disable_tqdm=True,
                  remove_unused_columns=False)
    if causal:
        trainer = Trainer(model=model, args=TrainingArguments(**common), train_dataset=rows, data_collator=collate,
                          callbacks=[Meter()])
    else:
        trainer = Seq2SeqTrainer(model=model, args=Seq2SeqTrainingArguments(**common), train_dataset=rows,
                                 data_collator=collate, callbacks=[Meter()])
    trainer.train()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    seconds = time.perf_counter() - stats["start"]
    # the collator runs one batch ahead of the step; drop the extra batch it may have counted
    return {"tokens_per_s": stats["tokens"] / seconds, "seconds": seconds, "tokens": stats["tokens"],
            "peak_mb": _peak_mb("cuda" if args.gpu else "cpu")}


def _child(args, arm: str) -> dict:
    cmd = [sys.executable, __file__, "--arm", arm, "--steps", str(args.steps), "--warmup", str(args.warmup),
           "--batch-size", str(args.batch_size), "--kind", args.kind, "--examples", str(args.examples)]
    if args.gpu:
        cmd.append("--gpu")
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode:
        sys.stderr.write(out.stderr[-4000:])
        raise SystemExit(f"arm {arm} failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--examples", type=int, default=2000)
    p.add_argument("--kind", choices=["seq2seq", "causal"], default="seq2seq")
    p.add_argument("--gpu", action="store_true")
    p.add_argument("--arm", choices=["gazelm", "hf", "hf_grouped"])
    args = p.parse_args()
    if args.gpu:
        args.kind = "causal"
    if args.arm:
        import torch

        if not args.gpu:
            torch.set_num_threads(int(os.environ.get("GAZELM_BENCH_THREADS", "2")))
        result = run_gazelm(args) if args.arm == "gazelm" else run_hf(args, group_by_length=args.arm == "hf_grouped")
        print(json.dumps(result))
        return
    results = {arm: _child(args, arm) for arm in ("gazelm", "hf", "hf_grouped")}
    print(f"{'arm':<12}{'tokens/s':>12}{'seconds':>10}{'tokens':>10}{'peak MB':>10}")
    for arm, r in results.items():
        print(f"{arm:<12}{r['tokens_per_s']:>12.0f}{r['seconds']:>10.2f}{r['tokens']:>10}{r['peak_mb']:>10.0f}")
    if args.gpu:
        flops = 6 * results["gazelm"]["params"] * results["gazelm"]["tokens_per_s"]
        peak = float(os.environ.get("GAZELM_PEAK_TFLOPS", "989")) * 1e12  # H100 SXM dense bf16
        print(f"model FLOPs utilisation (6·N·tokens/s ÷ peak): {flops / peak:.1%}")
    print(f"RATIO {results['gazelm']['tokens_per_s'] / results['hf']['tokens_per_s']:.2f}")


if __name__ == "__main__":
    main()
