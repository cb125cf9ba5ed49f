"""A byte-level BPE tokenizer trained locally on a task's training texts (cached).

Tiny models built from config use it, so nothing is downloaded. The cache key is a
hash of the corpus and settings: the same data gives the same tokenizer file.

Offsets and leading spaces (``trim_offsets``): byte-level BPE glues a word's leading space to
the word (``" sum"``). Training trims it from the offsets (``(5, 8)`` covers ``sum``), so
per-code-token gaze spans project onto subwords exactly. Probing (``gazelm align``'s tiny
models) keeps it (``(4, 8)`` covers ``" sum"``), so the probed pieces
concatenate back to the prompt text and every character belongs to one token.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from gazelm.atomic import atomic_path

SPECIAL_TOKENS = {"pad_token": "<pad>", "eos_token": "</s>", "unk_token": "<unk>", "bos_token": "<s>"}


def train_bpe_tokenizer(texts: Iterable[str], vocab_size: int = 4096, min_frequency: int = 2,
                        cache_dir: str | Path | None = None, trim_offsets: bool = True,
                        special_tokens: Mapping[str, str] | None = None,
                        extra_special_tokens: Sequence[str] = ()) -> PreTrainedTokenizerFast:
    """Train (or load from ``cache_dir``) a byte-level BPE tokenizer with offsets.

    ``trim_offsets``: leave a token's leading space out of its offsets (training) or keep it
    (probing); see the module docstring. ``special_tokens`` (role → token, default
    ``<pad> </s> <unk> <s>``) and ``extra_special_tokens`` (e.g. a vision-language model's image
    placeholders) are added to the vocabulary first, so each stays one token.
    """
    texts = list(texts)
    roles = dict(special_tokens or SPECIAL_TOKENS)
    specials = list(dict.fromkeys([*roles.values(), *extra_special_tokens]))
    digest = hashlib.sha1()
    for t in texts:
        digest.update(t.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    digest.update(f"{vocab_size}|{min_frequency}|v1{'' if trim_offsets else '|keep-space'}".encode())
    if special_tokens is not None or extra_special_tokens:
        digest.update("|".join(f"{k}={v}" for k, v in sorted(roles.items())).encode())
        digest.update("|".join(specials).encode())
    path = Path(cache_dir) / f"bpe-{digest.hexdigest()[:16]}.json" if cache_dir else None
    if path is not None and path.exists():
        tok = Tokenizer.from_file(str(path))
    else:
        tok = Tokenizer(models.BPE(unk_token=roles.get("unk_token")))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        tok.post_processor = processors.ByteLevel(trim_offsets=trim_offsets)
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                      special_tokens=specials,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
        tok.train_from_iterator(texts, trainer=trainer)
        if path is not None:
            with atomic_path(path) as tmp:
                tok.save(str(tmp))
    return PreTrainedTokenizerFast(tokenizer_object=tok, **roles)
