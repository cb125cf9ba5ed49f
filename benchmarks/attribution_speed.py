"""Batched attribution vs the one-at-a-time loop a user would otherwise write, interleaved.

On a tiny random-weight Llama (BPE tokenizer trained on the prompts) over HumanEval prompts,
arms in their own processes, timed in shuffled rounds (``interleave.py``), one prompt a step:

- ``mask_fill_batched`` / ``mask_fill_loop``: all perturbed variants of a prompt in ONE greedy
  ``generate`` call (``batched=True``) vs one ``generate`` call per variant;
- ``ig_batched`` / ``ig_loop``: all ``n_steps`` integrated-gradients points in ONE
  forward/backward batch vs one step per forward/backward (captum ``internal_batch_size=1``).

The fill model is a deterministic stand-in (each word upper-cased; no BERT download), so both
arms pay the same fill cost and the timing isolates generation. Before the rounds the script
checks on a few prompts that both arms give the same scores. Last line:
``RATIO <mask_fill batched prompts/s ÷ loop prompts/s>`` (median of per-round ratios).

    python benchmarks/attribution_speed.py [--prompts 50] [--rounds 8] [--steps 3] [--threads N]
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from interleave import pull_loop, report, run_rounds, serve, worker_arm  # noqa: E402


class UpperFill:
    def __call__(self, items):
        return [text[a:b].upper() for text, a, b in items]


def setup(args):
    import torch

    from gazelm.data.sources.kou_labels import load_humaneval_prompts
    from gazelm.data.tokenizer_training import train_bpe_tokenizer
    from gazelm.models.backbones import model_from_config, tiny_config

    if args.threads:
        torch.set_num_threads(args.threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    prompts = list(load_humaneval_prompts().values())[: args.prompts]
    tokenizer = train_bpe_tokenizer(prompts, vocab_size=512, trim_offsets=False)
    torch.manual_seed(0)
    model = model_from_config("causal", tiny_config("causal", hidden_size=32, layers=2, heads=2),
                              vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                              eos_token_id=tokenizer.eos_token_id, attn_implementation="eager").eval()
    encoded = [tokenizer(p, return_tensors="pt") for p in prompts]
    return prompts, tokenizer, model, encoded


def attribute(args, arm: str, prompt: str, enc, tokenizer, model):
    from gazelm.attention.operators import get_operator

    method, mode = arm.rsplit("_", 1)
    batched = mode == "batched"
    if method == "mask_fill":
        return get_operator("mask_fill")(model, enc["input_ids"], enc["attention_mask"], tokenizer=tokenizer,
                                         texts=[prompt], fill_model=UpperFill(),
                                         max_new_tokens=args.max_new_tokens, batched=batched)
    return get_operator("integrated_gradients")(model, enc["input_ids"], enc["attention_mask"], n_steps=args.ig_steps,
                                                batched=batched)


def arm_loop(args, arm: str):
    prompts, tokenizer, model, encoded = setup(args)
    state = {"i": 0}

    def step() -> float:
        i = state["i"] % len(prompts)
        state["i"] += 1
        attribute(args, arm, prompts[i], encoded[i], tokenizer, model)
        return 1

    return pull_loop(step)


def check_same_scores(args, n: int = 3) -> None:
    import torch

    prompts, tokenizer, model, encoded = setup(args)
    for method, tol in (("mask_fill", 1e-6), ("ig", 1e-4)):
        same = all(torch.allclose(attribute(args, f"{method}_batched", p, e, tokenizer, model),
                                  attribute(args, f"{method}_loop", p, e, tokenizer, model), atol=tol, rtol=tol)
                   for p, e in zip(prompts[:n], encoded[:n]))
        print(f"{method}: batched and loop give the same scores on {n} prompts: {same}")
        if not same:
            raise SystemExit(f"{method}: batched and one-at-a-time scores differ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=50)
    parser.add_argument("--max-new-tokens", type=int, default=8)
    parser.add_argument("--ig-steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3, help="prompts per arm per round")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads of every arm (default: torch's, i.e. all cores)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    arm = worker_arm()
    if arm:
        serve(lambda gate: arm_loop(args, arm)(gate))
        return
    check_same_scores(args)
    print(f"{args.prompts} HumanEval prompts cycled; tiny Llama d=32 L=2; {args.max_new_tokens} new tokens; "
          f"IG {args.ig_steps} steps; threads {args.threads or 'torch default'}")
    result = run_rounds(["mask_fill_batched", "mask_fill_loop", "ig_batched", "ig_loop"], rounds=args.rounds,
                        steps=args.steps, warmup=1)
    report(result, "ig_batched", ["ig_loop"], "prompts", label="integrated_gradients")
    report(result, "mask_fill_batched", ["mask_fill_loop"], "prompts")


if __name__ == "__main__":
    main()
