"""Batched attribution vs the one-at-a-time loop a user would otherwise write.

On a tiny random-weight Llama (BPE tokenizer trained on the prompts) over HumanEval prompts:

- ``mask_fill``: all perturbed variants of a prompt in ONE greedy ``generate`` call
  (``batched=True``) vs one ``generate`` call per variant (``batched=False``);
- ``integrated_gradients``: all ``n_steps`` interpolation points in ONE forward/backward batch
  vs one step per forward/backward (captum ``internal_batch_size=1``).

The fill model is a deterministic stand-in (each word upper-cased; no BERT download), so both
arms pay the same fill cost and the timing isolates generation. Both arms give the same scores
(checked). Last line: ``RATIO <mask_fill loop time ÷ batched time>``.

    python benchmarks/attribution_speed.py --prompts 50
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gazelm.attention.operators import get_operator  # noqa: E402
from gazelm.attention.operators.mask_fill import word_spans  # noqa: E402
from gazelm.data.sources.kou_labels import load_humaneval_prompts  # noqa: E402
from gazelm.data.tokenizer_training import train_bpe_tokenizer  # noqa: E402
from gazelm.models.backbones import model_from_config, tiny_config  # noqa: E402


class UpperFill:
    def __call__(self, items):
        return [text[a:b].upper() for text, a, b in items]


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=50)
    parser.add_argument("--max-new-tokens", type=int, default=8)
    parser.add_argument("--ig-steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads for both arms (default: torch's, i.e. all cores)")
    args = parser.parse_args()
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
    words = sum(len(word_spans(p)) for p in prompts)
    print(f"{len(prompts)} HumanEval prompts, {words} words, mean {sum(e['input_ids'].shape[1] for e in encoded) / len(encoded):.0f} "
          f"tokens; tiny Llama d=32 L=2; {args.max_new_tokens} new tokens; {torch.get_num_threads()} threads")

    mask_fill = get_operator("mask_fill")

    def run_mask_fill(batched: bool):
        return [mask_fill(model, e["input_ids"], e["attention_mask"], tokenizer=tokenizer, texts=[p],
                          fill_model=UpperFill(), max_new_tokens=args.max_new_tokens, batched=batched)
                for p, e in zip(prompts, encoded)]

    ig = get_operator("integrated_gradients")

    def run_ig(batched: bool):
        return [ig(model, e["input_ids"], e["attention_mask"], n_steps=args.ig_steps, batched=batched) for e in encoded]

    t_mf_batched, mf_batched = timed(lambda: run_mask_fill(True))
    t_mf_loop, mf_loop = timed(lambda: run_mask_fill(False))
    same_mf = all(torch.allclose(a, b, atol=1e-6) for a, b in zip(mf_batched, mf_loop))
    t_ig_batched, ig_batched = timed(lambda: run_ig(True))
    t_ig_loop, ig_loop = timed(lambda: run_ig(False))
    same_ig = all(torch.allclose(a, b, atol=1e-4, rtol=1e-4) for a, b in zip(ig_batched, ig_loop))

    print(f"{'method':<22}{'batched s':>11}{'loop s':>10}{'loop/batched':>14}  same scores")
    print(f"{'mask_fill':<22}{t_mf_batched:>11.2f}{t_mf_loop:>10.2f}{t_mf_loop / t_mf_batched:>14.2f}  {same_mf}")
    print(f"{'integrated_gradients':<22}{t_ig_batched:>11.2f}{t_ig_loop:>10.2f}{t_ig_loop / t_ig_batched:>14.2f}  {same_ig}")
    print(f"RATIO {t_mf_loop / t_mf_batched:.2f}")


if __name__ == "__main__":
    main()
