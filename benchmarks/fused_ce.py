"""``model.fused_ce: true`` (liger-kernel's fused linear cross-entropy) vs gazelm's plain label-only
LM head at a large vocabulary: peak GPU memory and time of a training step's forward + backward.

The ~341M-parameter Llama-style model of ``train_throughput.py --gpu`` with a Qwen2.5-sized
vocabulary (151,936 by default), bf16 autocast, ``--batch`` rows of ``--seq`` tokens, every
position labelled (full-sequence SFT: the case where the ``[tokens, vocab]`` logits are largest).
Both arms are gazelm's ``Backbone`` over the same model and batch (``fused_ce`` off / on) and run
in one process, alternating in a shuffled order every round, so load and clocks hit both alike.
Memory is the step's peak allocated memory above what was allocated before it (the parameters;
gradients are freed before each step, so they count in the peak, alike for both arms); time is
the median over rounds. The two arms' losses are printed side by side.

    python benchmarks/fused_ce.py             # needs CUDA and liger-kernel (pip install -e '.[gpu]')
    python benchmarks/fused_ce.py --dry-run   # the plain arm on CPU with tiny sizes: checks the script

``RATIO`` = plain peak step memory ÷ fused peak step memory.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_throughput import GPU_MODEL  # noqa: E402

from gazelm.models.backbones import Backbone  # noqa: E402

TINY = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 4}


def build(args, device: torch.device):
    from transformers import AutoConfig, AutoModelForCausalLM

    spec = dict(GPU_MODEL, **(TINY if args.dry_run else {}))
    config = AutoConfig.for_model(**spec, vocab_size=args.vocab)
    torch.manual_seed(0)
    with device:
        model = AutoModelForCausalLM.from_config(config, attn_implementation="sdpa")
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(3, args.vocab, (args.batch, args.seq), generator=g)
    batch = {"input_ids": ids.to(device), "attention_mask": torch.ones_like(ids).to(device)}
    return model, batch


def step(backbone: Backbone, batch: dict, device: torch.device) -> tuple[float, float, float]:
    """Forward + backward of the mean token NLL: (seconds, peak MB above the start, loss); the
    gradients are set to None first, so they count in the peak (the same for both arms)."""
    backbone.zero_grad(set_to_none=True)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    start = time.perf_counter()
    with torch.autocast(device.type, dtype=torch.bfloat16):
        out = backbone(batch, labels=batch["input_ids"])
        loss = -out.log_probs[out.label_mask].float().mean()
    loss.backward()
    if device.type == "cuda":
        torch.cuda.synchronize()
        peak = (torch.cuda.max_memory_allocated() - before) / 2**20
    else:
        peak = 0.0
    return time.perf_counter() - start, peak, float(loss.detach())


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--vocab", type=int, default=151936)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=1024)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--dry-run", action="store_true", help="the plain arm on CPU with a tiny model (no GPU figure)")
    args = p.parse_args(argv)
    if args.dry_run:
        args.vocab, args.batch, args.seq = min(args.vocab, 4096), min(args.batch, 2), min(args.seq, 64)
    if not args.dry_run and not torch.cuda.is_available():
        print("fused_ce.py measures liger-kernel's CUDA kernel and needs a CUDA GPU; nothing measured "
              "(--dry-run checks the script on CPU)")
        return
    device = torch.device("cpu" if args.dry_run else "cuda")
    model, batch = build(args, device)
    arms = {"plain": Backbone(model, None, "causal", "bench")}
    if device.type == "cuda":
        arms["fused_ce"] = Backbone(model, None, "causal", "bench", fused_ce=True)
    params = sum(p.numel() for p in model.parameters())
    print(f"{params / 1e6:.1f} M parameters, vocabulary {args.vocab:,}, batch {args.batch} × {args.seq} tokens "
          f"(all labelled), bf16 autocast, {torch.cuda.get_device_name() if device.type == 'cuda' else 'CPU dry run'}")
    for backbone in arms.values():
        for _ in range(args.warmup):
            step(backbone, batch, device)
    seconds: dict[str, list[float]] = {a: [] for a in arms}
    peaks: dict[str, float] = {a: 0.0 for a in arms}
    losses: dict[str, float] = {}
    rng = random.Random(0)
    for _ in range(args.rounds):
        for name in rng.sample(list(arms), len(arms)):
            s, peak, loss = step(arms[name], batch, device)
            seconds[name].append(s)
            peaks[name] = max(peaks[name], peak)
            losses[name] = loss
    tokens = args.batch * args.seq
    print(f"{'arm':<12}{'step ms':>10}{'tokens/s':>12}{'peak step MB':>15}{'loss':>10}")
    for name in arms:
        ms = statistics.median(seconds[name]) * 1e3
        print(f"{name:<12}{ms:>10.1f}{tokens / ms * 1e3:>12,.0f}{peaks[name]:>15,.0f}{losses[name]:>10.4f}")
    if "fused_ce" not in arms:
        print("RATIO nan (dry run: the fused arm needs CUDA)")
        return
    speed = statistics.median(seconds["plain"]) / statistics.median(seconds["fused_ce"])
    print(f"fused_ce: {speed:.2f}× the plain step's speed, loss difference {losses['fused_ce'] - losses['plain']:+.2e}")
    print(f"RATIO {peaks['plain'] / peaks['fused_ce']:.2f}")


if __name__ == "__main__":
    main()
