"""Models for probing: Hugging Face checkpoints by name/path, or tiny ones built from config.

The tiny models (random weights, seeded) let ``gazelm align``, its tests and the benchmark run
offline; their tokenizer is a byte-level BPE trained locally on the prompts and cached as a
``tokenizer.json``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import torch

from gazelm.atomic import atomic_path


@dataclass
class ProbeModel:
    """A model, its tokenizer and a display name."""

    name: str
    model: Any
    tokenizer: Any

    @property
    def is_causal(self) -> bool:
        return not bool(getattr(self.model.config, "is_encoder_decoder", False))


def train_bpe_tokenizer(texts: Iterable[str], vocab_size: int = 512, cache: str | Path | None = None):
    """Byte-level BPE trained on ``texts`` (loaded from ``cache`` when it exists), as a fast HF tokenizer.

    Unlike the training side's tokenizer (:mod:`gazelm.data.tokenizer_training`, offsets trimmed
    to the word so gaze spans project exactly), offsets here keep the leading space, so the
    probed token pieces concatenate back to the prompt text.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<s>", "</s>", "<unk>"]
    cache = Path(cache) if cache is not None else None
    if cache is not None and cache.exists():
        tok = Tokenizer.from_file(str(cache))
    else:
        tok = Tokenizer(models.BPE(unk_token="<unk>"))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
        tok.train_from_iterator(list(texts), trainer=trainer)
        if cache is not None:
            with atomic_path(cache) as tmp:
                tok.save(str(tmp))
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>")


def tiny_causal_lm(vocab_size: int, *, hidden_size: int = 32, layers: int = 2, heads: int = 2,
                   max_positions: int = 1024, seed: int = 0, pad_token_id: int = 0, eos_token_id: int = 2,
                   dtype: torch.dtype = torch.float32):
    """A random-weight ``LlamaForCausalLM`` with tiny sizes (eval mode, eager attention)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=vocab_size, hidden_size=hidden_size, intermediate_size=2 * hidden_size,
                         num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=heads,
                         max_position_embeddings=max_positions, pad_token_id=pad_token_id, bos_token_id=1,
                         eos_token_id=eos_token_id, tie_word_embeddings=False, attn_implementation="eager")
    torch.manual_seed(seed)
    return LlamaForCausalLM(config).to(dtype).eval()


def tiny_seq2seq_lm(vocab_size: int, *, d_model: int = 32, layers: int = 2, heads: int = 2, seed: int = 0,
                    pad_token_id: int = 0, eos_token_id: int = 2):
    """A random-weight ``T5ForConditionalGeneration`` with tiny sizes (eval mode)."""
    from transformers import T5Config, T5ForConditionalGeneration

    config = T5Config(vocab_size=vocab_size, d_model=d_model, d_ff=2 * d_model, d_kv=d_model // heads,
                      num_layers=layers, num_heads=heads, pad_token_id=pad_token_id, eos_token_id=eos_token_id,
                      decoder_start_token_id=pad_token_id)
    torch.manual_seed(seed)
    return T5ForConditionalGeneration(config).eval()


def load_probe_model(spec: dict | str, texts: Iterable[str] = (), cache_dir: str | Path | None = None) -> ProbeModel:
    """``spec``: a HF name/path (str or ``{"name_or_path": ...}``) or ``{"tiny": {...}}``.

    Tiny specs build a tokenizer on ``texts`` (cached in ``cache_dir``) and a Llama (``arch:
    causal``, default) or T5 (``arch: seq2seq``) of that vocabulary.
    """
    if isinstance(spec, str):
        spec = {"name_or_path": spec}
    spec = dict(spec)
    if spec.get("tiny"):
        tiny = dict(spec["tiny"])
        arch = tiny.pop("arch", "causal")
        vocab = int(tiny.pop("vocab_size", 512))
        cache = Path(cache_dir) / f"tokenizer-{spec.get('name', 'tiny')}-{vocab}.json" if cache_dir else None
        tokenizer = train_bpe_tokenizer(texts, vocab, cache)
        builder = tiny_causal_lm if arch == "causal" else tiny_seq2seq_lm
        model = builder(len(tokenizer), **tiny)
        return ProbeModel(spec.get("name", f"tiny-{arch}"), model, tokenizer)
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    path = spec["name_or_path"]
    config = AutoConfig.from_pretrained(path)
    cls = AutoModelForSeq2SeqLM if getattr(config, "is_encoder_decoder", False) else AutoModelForCausalLM
    model = cls.from_pretrained(path, attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return ProbeModel(spec.get("name", str(path)), model, tokenizer)
