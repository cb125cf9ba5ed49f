from __future__ import annotations

import pytest

from gazelm.data.example import Example
from gazelm.data.formatting import TaskFormat
from gazelm.data.tokenize import encode_example
from gazelm.errors import GazelmInputError
from gazelm.gaze.annotation import GazeAnnotation
from tests.helpers.tokenizers import word_tokenizer

CODE = "int x = f ( y ) ;"
TOK = word_tokenizer(CODE.split() + ["sum", "it", "P:", "OUT:", "z"])
EOS = TOK.eos_token_id


class FakeGaze:
    """Weights for the tokens `x` (chars 4-5) and `f` (8-9); `x` is on the path; attention on both."""

    def annotate(self, text, language, key):
        if language == "text":
            return None
        return GazeAnnotation(spans=[(4, 5), (8, 9)], weights=[4.5, 2.0], mask=[1, 0], attention=[3.0, 1.0])


def _example(target="sum it", target_language="text"):
    return Example("e1", "summarization", CODE, target, "java", target_language)


def test_seq2seq_features_carry_gaze_on_the_source() -> None:
    f = encode_example(_example(), TOK, TaskFormat(), causal=False, max_source_length=64, max_target_length=8,
                       gaze=FakeGaze())
    ids = TOK.convert_tokens_to_ids(CODE.split())
    assert f["input_ids"] == ids + [EOS]
    assert f["labels"] == TOK.convert_tokens_to_ids(["sum", "it"]) + [EOS]
    assert f["input_weights"] == [1.0, 4.5, 1.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    assert f["label_weights"] == [1.0, 1.0, 1.0]  # a natural-language target gets no gaze
    assert f["code_token_mask"] == [False, True, False, True, False, False, False, False, False]
    assert f["gaze_mask"] == [False, True, False, False, False, False, False, False, False]
    assert f["source_mask"] == [True] * 8 + [False]
    assert f["human_attention"] == [0.0, 0.75, 0.0, 0.25, 0.0, 0.0, 0.0, 0.0, 0.0]


def test_causal_features_mask_the_prompt_and_shift_gaze_by_the_prefix() -> None:
    fmt = TaskFormat(causal_prefix="P: ", causal_suffix=" OUT:")
    f = encode_example(_example("int z", "java"), TOK, fmt, causal=True, max_source_length=64,
                       max_target_length=8, gaze=FakeGaze())
    prompt = TOK.convert_tokens_to_ids(["P:"] + CODE.split() + ["OUT:"])
    target = TOK.convert_tokens_to_ids(["int", "z"]) + [EOS]
    assert f["input_ids"] == prompt + target
    assert f["labels"] == [-100] * len(prompt) + target
    assert f["n_prompt"] == len(prompt)
    # prefix "P:" shifts the source by one position; target "int z": z is chars 4-5 → weight 4.5 there too
    assert f["input_weights"] == [1.0, 1.0, 4.5, 1.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 4.5, 1.0]
    assert f["label_weights"] is f["input_weights"]
    assert f["source_mask"] == [False] + [True] * 8 + [False] * 4
    assert sum(f["human_attention"]) == pytest.approx(1.0)


def test_source_truncation_keeps_gaze_aligned() -> None:
    f = encode_example(_example(), TOK, TaskFormat(), causal=False, max_source_length=2, max_target_length=2,
                       gaze=FakeGaze())
    assert f["input_ids"] == TOK.convert_tokens_to_ids(["int", "x"]) + [EOS]
    assert f["input_weights"] == [1.0, 4.5, 1.0]
    assert f["labels"] == [TOK.convert_tokens_to_ids("sum"), EOS]


def test_without_gaze_everything_weighs_one() -> None:
    f = encode_example(_example(), TOK, TaskFormat(), causal=False, max_source_length=64, max_target_length=8)
    assert set(f["input_weights"]) == {1.0} and not any(f["code_token_mask"]) and "human_attention" not in f


@pytest.mark.parametrize("field", ["source", "target"])
def test_empty_texts_are_rejected_with_the_example_named(field: str) -> None:
    example = Example("bad-7", "summarization", "  " if field == "source" else CODE, "" if field == "target" else "x",
                      "java", "text")
    with pytest.raises(GazelmInputError, match=f"bad-7.*{field}"):
        encode_example(example, TOK, TaskFormat(), causal=False, max_source_length=8, max_target_length=8)


def test_texts_with_interpolation_syntax_reach_the_tokenizer(tmp_path, shared_cache) -> None:
    """Training texts are data, never config: "${bar}" in a docstring must not be resolved."""
    from gazelm.training import build_components
    from tests.helpers.compose import train_config

    stdlib = tmp_path / "lib"
    stdlib.mkdir()
    body = "def f{i}(x):\n    \"\"\"Format ${{bar}} and {{baz}} into the template.\"\"\"\n    y = x\n    return y\n"
    (stdlib / "mod.py").write_text("\n".join(body.format(i=i) for i in range(40)))
    cfg = train_config(tmp_path, shared_cache, f"+data.source.stdlib_dir={stdlib}", "+data.source.min_lines=3",
                       "+data.source.val_percent=0", "+data.source.test_percent=0",
                       "data.source.max_examples={train: null, val: null, test: null}", "model.tokenizer.vocab_size=300")
    datamodule, module = build_components(cfg)
    assert any("${bar}" in t for t in datamodule.tokenizer_corpus())
    assert module.backbone.tokenizer.decode(module.backbone.tokenizer("${bar}")["input_ids"]) == "${bar}"
