"""One FixATE training step against one plain CE fine-tuning step of the same backbone, same batch.

FixATE step: the frozen backbone on ``[P_u; x]`` with attentions, the answer letter's CE, the
in-forward relevance (``∂s/∂A`` of the last K layers with ``create_graph=True``, propagated to the
answer row, pooled to the slots), the weighted KL to the participant's dwell, backward through the
soft prompts (second order), per-group clipping and the AdamW step on ``B`` and ``z``.
CE step: the same backbone fine-tuned (every parameter trains) with token CE on the same batch:
forward, backward, AdamW. Same tiny Llama-style model (built from config, eager attention, as the
operators need; ``ce_sdpa`` shows CE with sdpa attention), a synthetic batch shaped like the EyeLink
comprehension data (4 trials × ~380 tokens, ~120 slots). Each arm runs in its own process, and the
arms are timed in rounds, in a fresh order each round (``interleave.py``), so machine load hits all
alike; the table shows each arm's median step and the median of its per-round ratios to CE (wall
clock; ``CPU ÷ ce``: the same on each process's CPU time). Every arm sets up its process as ``gazelm
train`` does (``retain_freed_memory``; ``--system-malloc`` leaves malloc alone, for comparison).

``glimpse_k6_no_graph`` treats ``∂s/∂A`` as a constant (``objective.create_graph=false``): no second-order
term, a cheaper approximation that is not FixATE's default.

Memory: on CUDA the peak allocated bytes of a step; on CPU the bytes of tensors saved for backward
during the step (activation memory, including the graph kept by ``create_graph``).

    python benchmarks/fixate_step.py --threads 1         # CPU defaults (the experiment's tiny backbone)
    python benchmarks/fixate_step.py --device cuda --hidden 896 --layers 24 --heads 14 --seq 512
    python benchmarks/fixate_step.py --vlm tiny_vlm_qwen3    # the visual experiments' tiny Qwen3-VL

``--vlm``: the tiny vision-language backbone of ``conf/model/<name>.yaml`` on a batch of
RecGaze-shaped pages (1100×600, resized by the processor, 15 slots, patch-to-slot pooling); CE
fine-tunes the whole VLM (vision tower included) on the answer letter (no ``ce_sdpa`` arm).

Last line: ``RATIO <FixATE step (glimpse_fixate, K = 6) ÷ CE step>``; target ≤ 3.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from interleave import Gate, quantiles, run_rounds, serve, worker_arm  # noqa: E402

from gazelm.host_memory import retain_freed_memory  # noqa: E402
from gazelm.models.backbones import Backbone  # noqa: E402
from gazelm.models.module import GazeLM  # noqa: E402
from gazelm.models.optim import build_optimizer, clip_group_gradients, parameter_groups  # noqa: E402
from gazelm.objectives.fixate import Fixate  # noqa: E402
from gazelm.objectives.tokens import token_log_probs  # noqa: E402


def build_model(args: argparse.Namespace, attention: str = "eager") -> torch.nn.Module:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=args.vocab, hidden_size=args.hidden, intermediate_size=2 * args.hidden,
                         num_hidden_layers=args.layers, num_attention_heads=args.heads,
                         num_key_value_heads=args.heads, max_position_embeddings=args.seq + 64,
                         tie_word_embeddings=True)
    config._attn_implementation = attention
    return LlamaForCausalLM(config).to(args.device)


def synthetic_batch(args: argparse.Namespace) -> dict[str, torch.Tensor]:
    """Prompt (question, code with slots, options) then the answer letter; gaze over the slots."""
    g = torch.Generator().manual_seed(0)
    b, t, n = args.batch, args.seq, args.slots
    ids = torch.randint(10, args.vocab, (b, t), generator=g)
    options = torch.tensor([[3, 4, 5]] * b)
    choice = torch.randint(0, 3, (b,), generator=g)
    answer = t - 2
    ids[:, answer + 1] = options.gather(1, choice.view(-1, 1)).squeeze(1)
    labels = torch.full((b, t), -100)
    labels[:, answer + 1] = ids[:, answer + 1]
    code_start, code_end = 20, t - 60
    slot_index = torch.full((b, t), -1)
    per = (code_end - code_start) / n
    positions = torch.arange(code_start, code_end)
    slot_index[:, code_start:code_end] = ((positions - code_start) / per).long().clamp(max=n - 1)
    gaze = torch.rand(b, n, generator=g) ** 4
    batch = {"input_ids": ids, "attention_mask": torch.ones(b, t, dtype=torch.long), "labels": labels,
             "user_index": torch.arange(b) % 3, "slot_index": slot_index, "gaze_target": gaze / gaze.sum(1, keepdim=True),
             "slot_mask": torch.ones(b, n, dtype=torch.bool), "answer_position": torch.full((b,), answer),
             "option_ids": options, "choice_index": choice, "correct_index": torch.zeros(b, dtype=torch.long),
             "adapt_only": torch.zeros(b, dtype=torch.bool)}
    return {k: v.to(args.device) for k, v in batch.items()}


def ce_arm(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> Callable[[], None]:
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step() -> None:
        if isinstance(model, Backbone):  # a VLM: its images, positions and image features
            logits = model(batch).logits
        else:
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                           use_cache=False).logits
        logp, mask = token_log_probs(logits, batch["labels"], True)
        loss = -logp.sum() / mask.sum()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def fixate_arm(model: torch.nn.Module, batch: dict[str, torch.Tensor], operator: str, last_k: int,
               create_graph: bool = True) -> Callable[[], None]:
    tok = SimpleNamespace(pad_token_id=0, eos_token_id=1)
    objective = Fixate(operator={"name": operator, "last_k": last_k}, create_graph=create_graph)
    backbone = model if isinstance(model, Backbone) else Backbone(model, tok, "causal", "bench")
    module = GazeLM(backbone, objective)
    objective.attach_data(SimpleNamespace(users=["u0", "u1", "u2"]))
    module.to(next(backbone.parameters()).device)
    b = float(batch["input_ids"].shape[0])
    counts = {"n_label_tokens": torch.tensor(b), "n_examples": torch.tensor(b)}
    stand_in = SimpleNamespace(global_step=10 ** 6, backbone=module.backbone,  # λ at full strength
                               items_normalizer=lambda batch, key: counts[key])
    optimizer = build_optimizer(partial(torch.optim.AdamW, lr=1e-3, weight_decay=1e-3),
                                parameter_groups(module.named_parameters(), objective.parameter_groups(), 1e-3))

    def step() -> None:
        outputs = objective.forward(batch, stand_in)
        loss, _ = objective.loss(batch, outputs, stand_in)
        loss.backward()
        clip_group_gradients(optimizer, None)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def vlm_setup(args: argparse.Namespace) -> tuple[Backbone, dict[str, torch.Tensor]]:
    """The tiny VLM of ``conf/model/<args.vlm>.yaml`` and a batch of RecGaze-shaped pages: a 1100×600
    page (resized by the processor) with 15 slots (3 × 5), a profile prompt, the answer letter."""
    from omegaconf import OmegaConf
    from PIL import Image, ImageDraw

    from gazelm.config import conf_dir
    from gazelm.data.visual_batch import collate_visual, encode_visual, letter_token_ids
    from gazelm.models.backbones import build_backbone

    spec = OmegaConf.to_container(OmegaConf.load(conf_dir() / "model" / f"{args.vlm}.yaml"))
    spec.pop("_target_")
    spec["cache_dir"] = None
    prompts = [f"Top_genre: {g}, Preferred_genres: {g}, Drama. Which poster will this user select?"
               for g in ("Action", "Comedy", "Horror", "Romance")]
    torch.manual_seed(0)
    backbone = build_backbone(**spec, corpus=prompts * 4)
    boxes = [(44 + 201 * c, 60 + 195 * r, 44 + 201 * c + 196, 60 + 195 * r + 110) for r in range(3) for c in range(5)]
    options = letter_token_ids(backbone.tokenizer, len(boxes))
    g = torch.Generator().manual_seed(0)
    rows = []
    for i in range(args.batch):
        page = Image.new("RGB", (1100, 600), (16, 16, 16))
        draw = ImageDraw.Draw(page)
        for k, (x1, y1, x2, y2) in enumerate(boxes):
            draw.rectangle([x1, y1, x2 - 1, y2 - 1], fill=(40 + 13 * k, 90 + 7 * i, 200 - 11 * k))
        row = encode_visual(backbone.adapter, page, prompts[i % len(prompts)], boxes, i % len(boxes), options)
        dwell = torch.rand(len(boxes), generator=g) ** 4
        row.update(gaze_target=(dwell / dwell.sum()).tolist(), user_index=i % 3, correct_index=-1, adapt_only=False,
                   example_index=i)
        rows.append(row)
    a = backbone.adapter
    batch = collate_visual(rows, backbone.tokenizer.pad_token_id, a.token_keys, a.image_keys, a.image_token_id)
    args.seq, args.slots = int(batch["input_ids"].shape[1]), len(boxes)
    return backbone.to(args.device), {k: v.to(args.device) for k, v in batch.items()}


ARMS: dict[str, tuple[str, int, bool]] = {  # name → (operator or "ce"/"ce_sdpa", last K, create_graph)
    "ce": ("ce", 0, False),
    "ce_sdpa": ("ce_sdpa", 0, False),
    "glimpse_fixate_k1": ("glimpse_fixate", 1, True),
    "glimpse_fixate_k3": ("glimpse_fixate", 3, True),
    "glimpse_fixate_k6": ("glimpse_fixate", 6, True),
    "attnlrp_fixate_k6": ("attnlrp_fixate", 6, True),
    "rollout_k6": ("rollout", 6, True),
    # ∂s/∂A treated as a constant (objective.create_graph=false): first order only, not FixATE's default
    "glimpse_k6_no_graph": ("glimpse_fixate", 6, False),
}


def step_memory(step: Callable[[], Any], device: str) -> int:
    """Peak allocated bytes of one step on CUDA; on CPU the bytes of tensors saved for backward."""
    saved = [0]

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved[0] += t.numel() * t.element_size()
        return t

    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        step()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        step()
    return saved[0]


def run_arm(args: argparse.Namespace, name: str, gate: Gate) -> None:
    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.system_malloc:  # as `gazelm train` does (retain_freed_memory: true), in every arm
        retain_freed_memory()
    operator, last_k, create_graph = ARMS[name]
    if args.vlm:
        model, batch = vlm_setup(args)
    else:
        batch = synthetic_batch(args)
        model = build_model(args, "sdpa" if operator == "ce_sdpa" else "eager")
    step = (ce_arm(model, batch) if operator.startswith("ce")
            else fixate_arm(model, batch, operator, last_k, create_graph))
    gate.extra.update(memory=step_memory(step, args.device), seq=args.seq, slots=args.slots)
    while True:
        gate.step()
        step()
        gate.count(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq", type=int, default=384)
    parser.add_argument("--slots", type=int, default=120)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--vocab", type=int, default=4096)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--steps", type=int, default=1, help="steps per arm per round")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    parser.add_argument("--system-malloc", action="store_true",
                        help="leave the C library's malloc as it is (gazelm train sets retain_freed_memory)")
    parser.add_argument("--vlm", default=None, choices=["tiny_vlm_qwen3", "tiny_vlm_internvl"],
                        help="a tiny vision-language backbone on RecGaze-shaped pages instead of the text model")
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    arm = worker_arm()
    if arm:
        serve(lambda gate: run_arm(args, arm, gate), sync=torch.cuda.synchronize if args.device == "cuda" else None)
        return
    names = [a for a in ARMS if a in {"ce", "glimpse_fixate_k6", *args.arms} and not (args.vlm and a == "ce_sdpa")]
    result = run_rounds(names, rounds=args.rounds, steps=args.steps, warmup=args.warmup)
    memory = {name: result.extra[name].get("memory", 0) for name in names}
    what = "peak CUDA MiB" if args.device == "cuda" else "saved-for-backward MiB"
    seq, slots = (result.extra["ce"].get(k, getattr(args, k)) for k in ("seq", "slots"))
    shape = f"vlm={args.vlm}" if args.vlm else f"hidden={args.hidden} layers={args.layers} heads={args.heads}"
    print(f"device={args.device} threads={args.threads or torch.get_num_threads()} batch={args.batch} seq={seq} "
          f"slots={slots} {shape} rounds={args.rounds} "
          f"malloc={'system' if args.system_malloc else 'retain_freed_memory'}; load average "
          f"{result.load[0]:.1f} → {result.load[1]:.1f} on {os.cpu_count()} cores")
    print(f"{'arm':22s} {'step ms':>9s} {'÷ ce':>7s} {'IQR':>13s} {'CPU ÷ ce':>9s} {what:>24s} {'÷ ce':>7s}")
    for name in names:
        wall = result.ratios("ce", name)            # per round: CE steps/s ÷ this arm's = its step ÷ CE's
        q1, q2, q3 = quantiles(wall) if name != "ce" else (1.0, 1.0, 1.0)
        cpu = statistics.median(result.ratios("ce", name, cpu=True)) if name != "ce" else 1.0
        print(f"{name:22s} {1000 / result.median_rate(name):9.1f} {q2:7.2f} {f'{q1:.2f}–{q3:.2f}':>13s} {cpu:9.2f} "
              f"{memory[name] / 2 ** 20:24.1f} {memory[name] / max(memory['ce'], 1):7.2f}")
    ratios = result.ratios("ce", "glimpse_fixate_k6")
    print(f"per-round ratio glimpse_fixate_k6 ÷ ce: min–max {min(ratios):.3f}–{max(ratios):.3f}, {len(ratios)} rounds")
    print(f"RATIO {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
