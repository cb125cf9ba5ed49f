"""mask_fill with a deterministic fake fill model: variants, BLEU importance, batched == loop."""
from __future__ import annotations

import pytest
import torch

from gazelm.attention.operators import get_operator
from gazelm.attention.operators.mask_fill import code_change, generate_all, word_importance, word_spans
from gazelm.data.tokenizer_training import train_bpe_tokenizer
from tests.helpers.tiny_models import tiny_causal_lm


PROMPTS = ["Write a function to add two numbers.", "Return None if the list is empty."]


class UpperFill:
    """Replaces every word by its upper-case form and records what it was asked."""

    def __init__(self):
        self.calls = []

    def __call__(self, items):
        self.calls.append(list(items))
        return [text[a:b].upper() for text, a, b in items]


@pytest.fixture(scope="module")
def setup():
    tokenizer = train_bpe_tokenizer(PROMPTS * 5, vocab_size=300, trim_offsets=False)
    model = tiny_causal_lm(len(tokenizer), hidden_size=16, layers=1)
    return model, tokenizer


def test_word_spans_skip_punctuation():
    assert [PROMPTS[1][a:b] for a, b in word_spans(PROMPTS[1])] == ["Return", "None", "if", "the", "list", "is",
                                                                      "empty"]


def test_code_change_is_one_minus_sentence_bleu():
    assert code_change("return a + b", "return a + b") == 0.0
    assert code_change("", "") == 0.0 and code_change("x = 1", "") == 1.0
    from sacrebleu.metrics import BLEU

    expected = 1 - BLEU(effective_order=True).sentence_score("return a - b", ["return a + b"]).score / 100
    assert code_change("return a + b", "return a - b") == pytest.approx(expected)


def test_word_importance_matches_regeneration(setup):
    model, tokenizer = setup
    fill = UpperFill()
    result = word_importance(model, tokenizer, PROMPTS, fill, max_new_tokens=4)
    assert len(fill.calls) == 1 and len(fill.calls[0]) == 7 + 7  # one fill call for all words
    originals = generate_all(model, tokenizer, PROMPTS, 4)
    a, b, imp = result[1][1]  # the word None → NONE
    assert PROMPTS[1][a:b] == "None"
    variant = PROMPTS[1][:a] + "NONE" + PROMPTS[1][b:]
    (new,) = generate_all(model, tokenizer, [variant], 4)
    assert imp == pytest.approx(code_change(originals[1], new))


def test_batched_equals_loop_and_tokens_get_word_importance(setup):
    model, tokenizer = setup
    tokenizer.padding_side = "right"
    enc = tokenizer(PROMPTS, return_tensors="pt", padding=True, return_offsets_mapping=True)
    op = get_operator("mask_fill")
    kwargs = dict(tokenizer=tokenizer, texts=PROMPTS, fill_model=UpperFill(), max_new_tokens=4)
    batched = op(model, enc["input_ids"], enc["attention_mask"], **kwargs)
    looped = op(model, enc["input_ids"], enc["attention_mask"], batched=False, **kwargs)
    torch.testing.assert_close(batched, looped)
    words = word_importance(model, tokenizer, PROMPTS, UpperFill(), max_new_tokens=4)
    for b, text in enumerate(PROMPTS):
        for pos, (ta, tb) in enumerate(enc["offset_mapping"][b].tolist()):
            hits = [imp for a, c, imp in words[b] if ta < c and a < tb]
            assert batched[b, pos].item() == pytest.approx(max(hits) if hits else 0.0)


def test_mask_fill_requires_a_tokenizer(setup):
    model, _ = setup
    with pytest.raises(ValueError, match="tokenizer"):
        get_operator("mask_fill")(model, torch.tensor([[1, 2]]), None)


def test_default_fill_model_runs_a_local_fill_mask_pipeline(tmp_path):
    from transformers import BertConfig, BertForMaskedLM, PreTrainedTokenizerFast

    from gazelm.attention.operators.mask_fill import HFFillMask

    base = train_bpe_tokenizer(PROMPTS * 3, vocab_size=280, trim_offsets=False)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=base.backend_tokenizer, pad_token="<pad>", unk_token="<unk>",
                                        mask_token="<unk>", cls_token="<s>", sep_token="</s>")
    torch.manual_seed(0)
    BertForMaskedLM(BertConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                               intermediate_size=32)).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    fill = HFFillMask(str(tmp_path))
    one = fill([(PROMPTS[0], 6, 7)])
    two = fill([(PROMPTS[0], 6, 7), (PROMPTS[1], 0, 6)])
    assert len(one) == 1 and len(two) == 2 and one[0] == two[0]
    assert all(isinstance(word, str) for word in two)


def test_probe_texts_runs_mask_fill_on_truncated_prompts(setup):
    from gazelm.attention.probe import OperatorSpec, probe_texts

    model, tokenizer = setup
    spec = OperatorSpec("mask_fill", params={"fill_model": UpperFill(), "max_new_tokens": 3})
    full = probe_texts(model, tokenizer, PROMPTS, spec)
    cut = probe_texts(model, tokenizer, PROMPTS, spec, max_length=4)
    assert [len(t) for t in cut] == [4, 4] and all(len(t) > 4 for t in full)
    assert all(score >= 0 for tokens in full + cut for _, score, _ in tokens)
