"""How an example becomes model text: an input template and, for causal models, a prompt.

The source text is kept as its own piece so its character offsets (and the gaze values
over them) survive tokenization unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass

from gazelm.data.example import Example

LANGUAGE_NAMES = {"java": "Java", "python": "Python", "c_sharp": "C#", "text": "natural language"}

# EyeMulator's prompt (### Instruction / ### Input Code / ### Output) for causal models.
DEFAULT_INSTRUCTIONS = {
    "translation": "Translate the following {src} code into {tgt}.",
    "completion": "Complete the following {src} code.",
    "summarization": "Summarize the following {src} code in one sentence.",
    "generation": "Write a {tgt} function for the following task.",
    "choice": "Answer the question about the following {src} code with the letter of one option.",
}


@dataclass(frozen=True)
class PromptPieces:
    prefix: str
    source: str
    suffix: str
    target: str


@dataclass(frozen=True)
class TaskFormat:
    """Templates with ``{instruction}``, ``{src}``, ``{tgt}`` fields, and every string field of
    ``example.meta`` (e.g. a multiple-choice task's ``{question}``, ``{options}``, ``{task_code}``).

    causal_prefix / causal_suffix surround the source for decoder-only models;
    seq2seq_prefix / seq2seq_suffix for encoder-decoder models (CodeT5 uses none).
    ``target_eos``: end the target with the EOS token (false for a one-token answer letter).
    """

    instruction: str | None = None
    causal_prefix: str = "### Instruction\n{instruction}\n### Input Code\n"
    causal_suffix: str = "\n### Output\n"
    seq2seq_prefix: str = ""
    seq2seq_suffix: str = ""
    target_eos: bool = True

    def pieces(self, example: Example, causal: bool) -> PromptPieces:
        names = {"src": LANGUAGE_NAMES.get(example.source_language, example.source_language),
                 "tgt": LANGUAGE_NAMES.get(example.target_language, example.target_language)}
        instruction = (self.instruction or DEFAULT_INSTRUCTIONS[example.task]).format(**names)
        fields = {**{k: v for k, v in example.meta.items() if isinstance(v, str)}, "instruction": instruction, **names}
        prefix = (self.causal_prefix if causal else self.seq2seq_prefix).format(**fields)
        suffix = (self.causal_suffix if causal else self.seq2seq_suffix).format(**fields)
        return PromptPieces(prefix, example.source, suffix, example.target)
