"""Kou et al.'s label files: counts, span conventions, the word None, bad-input errors."""
from __future__ import annotations

import pytest

from gazelm.data.sources.kou_labels import load_kou_labels
from gazelm.errors import GazelmInputError


@pytest.mark.parametrize("dataset,n_prompts,n_spans", [("humaneval", 164, 1092), ("mbpp", 974, 6891)])
def test_counts_and_texts_equal_words(data_dir, dataset, n_prompts, n_spans):
    prompts = load_kou_labels(dataset, data_dir / "kou-attention-labels" / f"{dataset}.csv")
    assert len(prompts) == n_prompts
    spans = [(p, s) for p in prompts for s in p.spans]
    assert len(spans) == n_spans
    assert all(p.text[s.start:s.end] == s.word and s.word for p, s in spans)


def test_none_stays_a_word(data_dir):
    prompts = load_kou_labels("humaneval", data_dir / "kou-attention-labels" / "humaneval.csv")
    assert sum(s.word == "None" for p in prompts for s in p.spans) == 6


def test_mbpp_inclusive_end(data_dir):
    first = load_kou_labels("mbpp", data_dir / "kou-attention-labels" / "mbpp.csv")[0]
    assert first.prompt_id == "601"
    assert (first.spans[0].start, first.spans[0].end, first.spans[0].word) == (0, 5, "Write")


def test_mismatched_word_names_file_row_field(tmp_path):
    path = tmp_path / "humaneval.csv"
    path.write_text('prompt_id,prompt,word,label type,index range\n0,"return a list",list,datatype,"(9, 13)"\n'
                    '0,"return a list",lisp,datatype,"(9, 13)"\n')
    with pytest.raises(GazelmInputError, match=r"humaneval\.csv, row 2, field 'word'"):
        load_kou_labels("humaneval", path)


def test_bad_range_and_out_of_bounds(tmp_path):
    path = tmp_path / "mbpp.csv"
    path.write_text(',prompt_id,Prompt,Word,Label Type,index\n0,1,Add two,Add,Operator,"0-2"\n')
    with pytest.raises(GazelmInputError, match="row 1, field 'index'"):
        load_kou_labels("mbpp", path)
    path.write_text(',prompt_id,Prompt,Word,Label Type,index\n0,1,Add two,two,Datatype,"(4, 7)"\n')
    with pytest.raises(GazelmInputError, match="outside the prompt"):
        load_kou_labels("mbpp", path)


def test_separator_rows_and_none_word_in_mbpp_format(tmp_path):
    path = tmp_path / "mbpp.csv"
    path.write_text(',prompt_id,Prompt,Word,Label Type,index\n0,1,Return None,None,Datatype,"(7, 10)"\n1,1,Return None,,,\n'
                    '2,2,Nothing here,,,\n')
    prompts = load_kou_labels("mbpp", path)
    assert [(p.prompt_id, p.span_tuples()) for p in prompts] == [("1", [(7, 11)]), ("2", [])]
