"""Step time and memory of each gaze objective against plain cross-entropy.

Same tiny Llama-style model (built from config, eager attention so that every objective
runs on the identical model; ``ce_sdpa`` shows plain CE with the faster sdpa attention,
which cannot return attention weights), same synthetic causal batch, one optimizer step =
forward + objective + backward + AdamW step, in plain torch with a stand-in module
(``items_normalizer`` = this batch's counts) and gazelm's ``Backbone`` (so objectives that
name their scored tokens get the label-only LM head, as in training). Each objective runs in
its own process and they are timed in rounds, in a shuffled order each round
(``interleave.py``), so that machine noise hits all of them alike; the table shows the median
step time and the median of per-round ratios to the baseline. Every arm sets up its process as
``gazelm train`` does (``retain_freed_memory``; ``--system-malloc`` leaves malloc alone).

Memory: on CUDA the peak allocated bytes of a step; on CPU the bytes of tensors saved
for backward during the step (activation memory, the part objectives change) plus the
parameters of any extra model an objective keeps (the frozen reference copy).

    python benchmarks/objective_overhead.py                       # CPU defaults
    python benchmarks/objective_overhead.py --device cuda --batch 16 --seq 512 --hidden 512 --layers 8

Last line: ``RATIO <eyemulator step time ÷ ce step time>``.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from interleave import Gate, run_rounds, serve, worker_arm  # noqa: E402

from gazelm.host_memory import retain_freed_memory  # noqa: E402
from gazelm.models.backbones import Backbone  # noqa: E402
from gazelm.objectives.ce import CrossEntropy  # noqa: E402
from gazelm.objectives.eyemulator import EyeMulator  # noqa: E402
from gazelm.objectives.preference import GazePreference  # noqa: E402
from gazelm.objectives.reward import RewardSFT  # noqa: E402


def build_model(args: argparse.Namespace, lora: bool, attention: str = "eager") -> torch.nn.Module:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=args.vocab, hidden_size=args.hidden, intermediate_size=4 * args.hidden,
                         num_hidden_layers=args.layers, num_attention_heads=args.heads,
                         num_key_value_heads=args.heads, max_position_embeddings=args.seq)
    config._attn_implementation = attention
    model: torch.nn.Module = LlamaForCausalLM(config)
    if lora:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0,
                                                 target_modules=["q_proj", "v_proj"]))
    return model.to(args.device)


def synthetic_batch(args: argparse.Namespace) -> dict[str, torch.Tensor]:
    """Causal layout: prompt (head + source code) then target; gaze on ~30 % of code tokens."""
    g = torch.Generator().manual_seed(0)
    b, t = args.batch, args.seq
    prompt = t // 2
    pos = torch.arange(t)[None].expand(b, t)
    ids = torch.randint(3, args.vocab, (b, t), generator=g)
    code = (pos >= 4) & (pos < prompt - 2)
    weights = torch.where(code | (pos >= prompt), 1 + 4 * torch.rand(b, t, generator=g), torch.ones(b, t))
    batch = {
        "input_ids": ids, "attention_mask": torch.ones(b, t, dtype=torch.long),
        "labels": ids.masked_fill(pos < prompt, -100), "label_weights": weights, "input_weights": weights,
        "source_mask": code, "code_token_mask": code,
        "gaze_mask": code & (torch.rand(b, t, generator=g) < 0.3),
    }
    return {k: v.to(args.device) for k, v in batch.items()}


class Runner:
    """One objective on its own copy of the model and optimizer."""

    def __init__(self, name: str, objective: Any, model: torch.nn.Module, device: str,
                 counts: dict[str, torch.Tensor]):
        self.name, self.objective, self.model = name, objective, model
        backbone = Backbone(model, None, "causal", name)
        self.backbone = backbone
        # the DataModule stamps the step's counts on the batch; here they are computed once, outside the timing
        self.module = SimpleNamespace(backbone=backbone, global_step=10 ** 6,
                                      items_normalizer=lambda batch, key: counts[key])
        objective.setup(self.module)
        self.optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
        self.times: list[float] = []
        self.memory = 0
        reference = getattr(objective, "_reference", None)
        self.extra_params = sum(p.numel() * p.element_size() for p in reference.parameters()) if reference else 0
        self.device = device

    def step(self, batch: dict[str, torch.Tensor], measure_memory: bool) -> None:
        saved = [0]

        def pack(t: torch.Tensor) -> torch.Tensor:
            saved[0] += t.numel() * t.element_size()
            return t

        sync: Callable[[], None] = torch.cuda.synchronize if self.device == "cuda" else (lambda: None)
        if self.device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        sync()
        start = time.perf_counter()
        hooks = torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t) if measure_memory else None
        if hooks is not None:
            hooks.__enter__()
        outputs = self.backbone(batch, output_attentions="attentions" in self.objective.needs,
                                labels=self.objective.scored_labels(batch))
        loss, _ = self.objective.loss(batch, outputs, self.module)
        if hooks is not None:
            hooks.__exit__(None, None, None)
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        sync()
        elapsed = time.perf_counter() - start
        if measure_memory:
            self.memory = (torch.cuda.max_memory_allocated() if self.device == "cuda"
                           else saved[0] + self.extra_params)
        else:
            self.times.append(elapsed)


def objectives(args: argparse.Namespace) -> dict[str, tuple[Callable[[], Any], str]]:
    """name → (objective factory, model: full | lora | sdpa)."""
    motif = {"attention_motif": {"layers": [-1], "target": "gaze_mask"}}
    return {
        "ce": (CrossEntropy, "full"),
        "ce_sdpa": (CrossEntropy, "sdpa"),
        "eyemulator": (EyeMulator, "full"),
        "eyemulator_example": (lambda: EyeMulator(scope="example"), "full"),
        "eyemulator_both": (lambda: EyeMulator(loss_on="both"), "full"),
        "reward_sft_attention": (lambda: RewardSFT(reward="attention_motif", lam=0.1, reward_options=motif), "full"),
        "gaze_preference_copy": (GazePreference, "full"),
        "ce_lora": (CrossEntropy, "lora"),
        "gaze_preference_lora": (GazePreference, "lora"),
    }


def run_arm(args: argparse.Namespace, name: str, gate: Gate) -> None:
    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.system_malloc:  # as `gazelm train` does (retain_freed_memory: true), in every arm
        retain_freed_memory()
    factory, kind = objectives(args)[name]
    batch = synthetic_batch(args)
    model = build_model(args, lora=kind == "lora", attention="sdpa" if kind == "sdpa" else "eager")
    objective = factory()
    counts = {k: v.float() for k, v in objective.window_counts(batch).items()}
    runner = Runner(name, objective, model, args.device, counts)
    runner.step(batch, measure_memory=True)
    gate.extra["memory"] = runner.memory
    while True:
        gate.step()
        runner.step(batch, measure_memory=False)
        gate.count(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--vocab", type=int, default=8192)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--steps", type=int, default=1, help="steps per objective per round")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    parser.add_argument("--system-malloc", action="store_true",
                        help="leave the C library's malloc as it is (gazelm train sets retain_freed_memory)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    arm = worker_arm()
    if arm:
        serve(lambda gate: run_arm(args, arm, gate),
              sync=torch.cuda.synchronize if args.device == "cuda" else None)
        return
    names = list(objectives(args))
    result = run_rounds(names, rounds=args.rounds, steps=args.steps, warmup=args.warmup)
    base = {name: "ce_lora" if name.endswith("_lora") else "ce" for name in names}
    memory = {name: result.extra[name].get("memory", 0) for name in names}
    what = "peak CUDA MiB" if args.device == "cuda" else "saved-for-backward + extra params MiB"
    print(f"device={args.device} threads={args.threads or torch.get_num_threads()} batch={args.batch} seq={args.seq} "
          f"hidden={args.hidden} layers={args.layers} vocab={args.vocab} rounds={args.rounds} "
          f"malloc={'system' if args.system_malloc else 'retain_freed_memory'}; load average "
          f"{result.load[0]:.1f} → {result.load[1]:.1f}")
    print(f"{'objective':24s} {'step ms':>9s} {'÷ baseline':>10s} {what:>40s} {'÷ baseline':>10s}")
    for name in names:
        ref = base[name]
        ms = 1000 / result.median_rate(name)
        slower = statistics.median(result.ratios(ref, name))  # per round: baseline steps/s ÷ this one's
        print(f"{name:24s} {ms:9.1f} {slower:10.3f} {memory[name] / 2 ** 20:40.1f} "
              f"{memory[name] / max(memory[ref], 1):10.3f}")
    print(f"RATIO {statistics.median(result.ratios('ce', 'eyemulator')):.3f}")


if __name__ == "__main__":
    main()
