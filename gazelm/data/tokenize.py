"""Example → model features, keeping offset mappings so gaze values reach subwords.

Features (lists, one entry per position):
- ``input_ids``; ``labels`` (-100 where there is no loss): for encoder-decoder models the
  decoder targets, for causal models aligned with ``input_ids`` (prompt positions -100);
- ``input_weights`` (gaze weight of the source code token each position belongs to, 1.0
  elsewhere; for causal models target code tokens too) and ``label_weights`` (aligned
  with ``labels``);
- ``source_mask`` (position inside the source text), ``code_token_mask`` (inside a code
  token of the source), ``gaze_mask`` (that token is on the (pseudo-)scanpath);
- ``human_attention`` (where the gaze provider has real attention; sums to 1 over the
  source positions, split evenly among a token's subwords).
"""
from __future__ import annotations

from typing import Any

from gazelm.data.choice import choice_features, slot_features
from gazelm.data.example import Example
from gazelm.data.formatting import TaskFormat
from gazelm.errors import GazelmInputError
from gazelm.gaze.annotation import GazeAnnotation, GazeProvider
from gazelm.gaze.project import project_token_values, span_index_per_subword

Features = dict[str, Any]


def _encode(tokenizer, text: str) -> tuple[list[int], list[tuple[int, int]]]:
    if not text:
        return [], []
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    return list(enc["input_ids"]), [tuple(o) for o in enc["offset_mapping"]]


def _gaze_values(annotation: GazeAnnotation | None, offsets: list[tuple[int, int]]) -> dict[str, list]:
    n = len(offsets)
    if annotation is None or not annotation.spans:
        return {"weights": [1.0] * n, "code": [False] * n, "mask": [False] * n, "attention": None}
    spans = [tuple(s) for s in annotation.spans]
    owner = span_index_per_subword(offsets, spans)
    mask = annotation.mask
    return {
        "weights": project_token_values(offsets, spans, annotation.weights, 1.0),
        "code": [i >= 0 for i in owner],
        "mask": [i >= 0 and mask is not None and bool(mask[i]) for i in owner],
        "attention": (project_token_values(offsets, spans, annotation.attention, 0.0, split=True)
                      if annotation.attention is not None else None),
    }


def encode_example(example: Example, tokenizer, fmt: TaskFormat, *, causal: bool, max_source_length: int,
                   max_target_length: int, gaze: GazeProvider | None = None, add_bos: bool = False) -> Features:
    """Tokenize one example; the source is truncated to ``max_source_length`` subwords."""
    if not example.source.strip():
        raise GazelmInputError("empty source text", field=f"example {example.id!r}.source")
    if not example.target.strip():
        raise GazelmInputError("empty target text", field=f"example {example.id!r}.target")
    pieces = fmt.pieces(example, causal)
    prefix_ids, _ = _encode(tokenizer, pieces.prefix)
    src_ids, src_offsets = _encode(tokenizer, pieces.source)
    suffix_ids, _ = _encode(tokenizer, pieces.suffix)
    tgt_ids, tgt_offsets = _encode(tokenizer, pieces.target)
    src_ids, src_offsets = src_ids[:max_source_length], src_offsets[:max_source_length]
    eos = tokenizer.eos_token_id
    if fmt.target_eos:
        tgt_ids, tgt_offsets = tgt_ids[: max_target_length - 1] + [eos], tgt_offsets[: max_target_length - 1] + [(0, 0)]
    else:
        tgt_ids, tgt_offsets = tgt_ids[:max_target_length], tgt_offsets[:max_target_length]

    src_gaze = _gaze_values(gaze.annotate(example.source, example.source_language, example.id) if gaze else None,
                            src_offsets)
    tgt_annotation = None
    if gaze is not None and example.target_language != "text":
        tgt_annotation = gaze.annotate(example.target, example.target_language, f"{example.id}#target")
    tgt_weights = _gaze_values(tgt_annotation, tgt_offsets)["weights"]

    bos = [tokenizer.bos_token_id] if add_bos and tokenizer.bos_token_id is not None else []
    head = bos + prefix_ids
    n_head, n_src = len(head), len(src_ids)
    prompt_ids = head + src_ids + suffix_ids + ([] if causal else [eos])
    n_prompt = len(prompt_ids)

    def over_prompt(values: list, fill) -> list:
        return [fill] * n_head + list(values) + [fill] * (n_prompt - n_head - n_src)

    features: Features = {
        "source_mask": [False] * n_head + [True] * n_src + [False] * (n_prompt - n_head - n_src),
        "code_token_mask": over_prompt(src_gaze["code"], False),
        "gaze_mask": over_prompt(src_gaze["mask"], False),
    }
    input_weights = over_prompt(src_gaze["weights"], 1.0)
    if causal:
        features["input_ids"] = prompt_ids + tgt_ids
        features["labels"] = [-100] * n_prompt + tgt_ids
        features["input_weights"] = input_weights + tgt_weights
        features["label_weights"] = features["input_weights"]
        n_tgt = len(tgt_ids)
        for key in ("source_mask", "code_token_mask", "gaze_mask"):
            features[key] = features[key] + [False] * n_tgt
    else:
        features["input_ids"] = prompt_ids
        features["labels"] = tgt_ids
        features["input_weights"] = input_weights
        features["label_weights"] = tgt_weights
    if src_gaze["attention"] is not None:
        attention = over_prompt(src_gaze["attention"], 0.0)
        total = sum(attention)
        attention = [a / total for a in attention] if total > 0 else attention
        features["human_attention"] = attention + [0.0] * (len(features["input_ids"]) - len(attention))
    features["n_prompt"] = n_prompt
    features.update(choice_features(example, tokenizer, n_prompt, causal))
    if features.pop("no_labels", False):  # kept in the input, without a loss (a choice with no answer)
        features["labels"] = [-100] * len(features["labels"])
    features.update(slot_features(example, src_offsets, n_head, len(features["input_ids"])))
    return features
