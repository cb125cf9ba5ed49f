"""One FixATE training step against one plain CE fine-tuning step of the same backbone, same batch.

FixATE step: the frozen backbone on ``[P_u; x]`` with attentions, the answer letter's CE, the
in-forward relevance (``∂s/∂A`` of the last K layers with ``create_graph=True``, propagated to the
answer row, pooled to the slots), the weighted KL to the participant's dwell, backward through the
soft prompts (second order), per-group clipping and the AdamW step on ``B`` and ``z``.
CE step: the same backbone fine-tuned (every parameter trains) with token CE on the same batch:
forward, backward, AdamW. Same tiny Llama-style model (built from config, eager attention, as the
operators need; ``ce_sdpa`` shows CE with sdpa attention), a synthetic batch shaped like the EyeLink
comprehension data (4 trials × ~380 tokens, ~120 slots). Arms run round-robin in a fresh order
each round, so machine load hits all alike; medians are reported.

``glimpse_k6_no_graph`` treats ``∂s/∂A`` as a constant (``objective.create_graph=false``): no second-order
term, a cheaper approximation that is not FixATE's default.

Memory: on CUDA the peak allocated bytes of a step; on CPU the bytes of tensors saved for backward
during the step (activation memory, including the graph kept by ``create_graph``).

    python benchmarks/fixate_step.py                     # CPU defaults (the experiment's tiny backbone)
    python benchmarks/fixate_step.py --device cuda --hidden 896 --layers 24 --heads 14 --seq 512
    python benchmarks/fixate_step.py --vlm tiny_vlm_qwen3    # the visual experiments' tiny Qwen3-VL

``--vlm``: the tiny vision-language backbone of ``conf/model/<name>.yaml`` on a batch of
RecGaze-shaped pages (1100×600, resized by the processor, 15 slots, patch-to-slot pooling); CE
fine-tunes the whole VLM (vision tower included) on the answer letter.

Last line: ``RATIO <FixATE step (glimpse_fixate, K = 6) ÷ CE step>``; target ≤ 3.
"""
from __future__ import annotations

import argparse
import copy
import random
import statistics
import time
from functools import partial
from types import SimpleNamespace
from typing import Any, Callable

import torch

from gazelm.models.backbones import Backbone
from gazelm.models.module import GazeLM
from gazelm.models.optim import build_optimizer, clip_group_gradients, parameter_groups
from gazelm.objectives.fixate import Fixate
from gazelm.objectives.tokens import token_log_probs


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


class Arm:
    def __init__(self, name: str, step: Callable[[], Any], device: str):
        self.name, self._step, self.device = name, step, device
        self.times: list[float] = []
        self.memory = 0

    def run(self, measure_memory: bool = False) -> None:
        saved = [0]

        def pack(t: torch.Tensor) -> torch.Tensor:
            saved[0] += t.numel() * t.element_size()
            return t

        sync = torch.cuda.synchronize if self.device == "cuda" else (lambda: None)
        if self.device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        sync()
        start = time.perf_counter()
        if measure_memory and self.device != "cuda":
            with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                self._step()
        else:
            self._step()
        sync()
        elapsed = time.perf_counter() - start
        if measure_memory:
            self.memory = torch.cuda.max_memory_allocated() if self.device == "cuda" else saved[0]
        else:
            self.times.append(elapsed)


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
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    parser.add_argument("--vlm", default=None, choices=["tiny_vlm_qwen3", "tiny_vlm_internvl"],
                        help="a tiny vision-language backbone on RecGaze-shaped pages instead of the text model")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.vlm:
        eager, batch = vlm_setup(args)
        arms = [Arm("ce", ce_arm(copy.deepcopy(eager), batch), args.device)]
    else:
        batch = synthetic_batch(args)
        eager = build_model(args)
        arms = [Arm("ce", ce_arm(copy.deepcopy(eager), batch), args.device),
                Arm("ce_sdpa", ce_arm(build_model(args, "sdpa"), batch), args.device)]
    for k in (1, 3, 6):
        arms.append(Arm(f"glimpse_fixate_k{k}", fixate_arm(copy.deepcopy(eager), batch, "glimpse_fixate", k),
                        args.device))
    for name in ("attnlrp_fixate", "rollout"):
        arms.append(Arm(f"{name}_k6", fixate_arm(copy.deepcopy(eager), batch, name, 6), args.device))
    # ∂s/∂A treated as a constant (objective.create_graph=false): first order only, not FixATE's default
    arms.append(Arm("glimpse_k6_no_graph", fixate_arm(copy.deepcopy(eager), batch, "glimpse_fixate", 6, False),
                    args.device))
    for arm in arms:
        arm.run(measure_memory=True)
        for _ in range(args.warmup):
            arm.run()
        arm.times.clear()
    order = random.Random(0)
    for _ in range(args.rounds):  # interleaved: every arm once per round, in a fresh order
        for arm in order.sample(arms, len(arms)):
            arm.run()
    median = {a.name: statistics.median(a.times) for a in arms}
    memory = {a.name: a.memory for a in arms}
    what = "peak CUDA MiB" if args.device == "cuda" else "saved-for-backward MiB"
    shape = (f"vlm={args.vlm}" if args.vlm else
             f"hidden={args.hidden} layers={args.layers} heads={args.heads}")
    print(f"device={args.device} threads={torch.get_num_threads()} batch={args.batch} seq={args.seq} "
          f"slots={args.slots} {shape} rounds={args.rounds}")
    print(f"{'arm':22s} {'step ms':>9s} {'÷ ce':>7s} {what:>24s} {'÷ ce':>7s}")
    for name, t in median.items():
        print(f"{name:22s} {1000 * t:9.1f} {t / median['ce']:7.2f} {memory[name] / 2 ** 20:24.1f} "
              f"{memory[name] / max(memory['ce'], 1):7.2f}")
    print(f"RATIO {median['glimpse_fixate_k6'] / median['ce']:.3f}")


if __name__ == "__main__":
    main()
