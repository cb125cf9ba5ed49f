"""One builder for probed models and one BPE trainer with both offset conventions (issue 11 item 5)."""
from __future__ import annotations

import json

import pytest

from gazelm.attention.probe import OperatorSpec
from gazelm.attention.study import backbone_spec, run_study
from gazelm.data.sources.kou_labels import KouPrompt, KouSpan
from gazelm.data.tokenizer_training import train_bpe_tokenizer
from gazelm.errors import GazelmInputError

CORPUS = ["sum of a list", "sum of sum"] * 10


@pytest.mark.parametrize("trim,offsets", [(True, [(0, 3), (4, 6), (7, 8), (9, 13)]),    # gaze spans: words only
                                          (False, [(0, 3), (3, 6), (6, 8), (8, 13)])])  # probing: pieces tile the text
def test_trim_offsets_option(trim, offsets, tmp_path):
    tok = train_bpe_tokenizer(CORPUS, vocab_size=300, cache_dir=tmp_path, trim_offsets=trim)
    enc = tok("sum of a list", return_offsets_mapping=True)
    assert tok.convert_ids_to_tokens(enc["input_ids"]) == ["sum", "Ġof", "Ġa", "Ġlist"]
    assert [tuple(o) for o in enc["offset_mapping"]] == offsets
    # cached under a key that includes the option: reloading gives the same offsets
    again = train_bpe_tokenizer(CORPUS, vocab_size=300, cache_dir=tmp_path, trim_offsets=trim)
    assert [tuple(o) for o in again("sum of a list", return_offsets_mapping=True)["offset_mapping"]] == offsets


def test_the_two_offset_conventions_are_cached_apart(tmp_path):
    train_bpe_tokenizer(CORPUS, vocab_size=300, cache_dir=tmp_path, trim_offsets=True)
    train_bpe_tokenizer(CORPUS, vocab_size=300, cache_dir=tmp_path, trim_offsets=False)
    assert len(list(tmp_path.glob("bpe-*.json"))) == 2


def test_tiny_shorthand_is_a_backbone_spec():
    name, spec = backbone_spec({"name": "tiny", "tiny": {"vocab_size": 300, "hidden_size": 16, "layers": 1,
                                                         "seed": 3}})
    assert name == "tiny"
    assert spec == {
        "kind": "causal", "seed": 3, "attn_implementation": "eager",
        "config": {"model_type": "llama", "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                   "num_attention_heads": 2, "num_key_value_heads": 2, "max_position_embeddings": 1024,
                   "tie_word_embeddings": False},
        "tokenizer": {"train": True, "trim_offsets": False, "vocab_size": 300}}
    name, spec = backbone_spec({"name": "codegen", "name_or_path": "Salesforce/codegen-350M-mono"})
    assert (name, spec) == ("codegen", {"name_or_path": "Salesforce/codegen-350M-mono", "kind": "auto",
                                        "attn_implementation": "eager"})


def test_unknown_tiny_key_is_named():
    with pytest.raises(GazelmInputError, match="field 'models.tiny'.*'hidden'"):
        backbone_spec({"tiny": {"hidden": 16}})


def test_study_probes_a_model_given_as_a_backbone_spec(tmp_path):
    """A T5 given with the keys of conf/model/*.yaml; its probed pieces tile each prompt."""
    prompts = [KouPrompt("toy", "0", "Return the sum of a list.", [KouSpan(11, 14, "sum", "x")]),
               KouPrompt("toy", "1", "Check if it is empty.", [])]
    t5 = {"name": "t5", "kind": "seq2seq", "tokenizer": {"vocab_size": 300},
          "config": {"model_type": "t5", "d_model": 16, "d_ff": 32, "d_kv": 8, "num_layers": 1, "num_heads": 2}}
    table = run_study(prompts, [OperatorSpec("rollout")], [t5], [1], tmp_path, cache_dir=tmp_path / "cache")
    rows = [json.loads(line) for line in (tmp_path / "attention.jsonl").read_text().splitlines()]
    assert [r["model"] for r in rows] == ["t5", "t5"]
    for prompt, row in zip(prompts, rows):
        assert "".join(text for text, _ in row["tokens"]) == prompt.text
    assert set(table.model) == {"t5", "average"} and list(table.n_prompts) == [2, 2]
