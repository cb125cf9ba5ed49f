"""The EyeLink Python comprehension study as multiple-choice trials with per-area dwell (FixATE).

Upstream layout (``$GAZELM_DATA_DIR/eyelink-python``; github.com/Taremeh/predicting-code-comprehension-eye-tracking)::

    fixation_reports/fix_report_P*.txt.gz          EyeLink fixation reports (read with read_fixations)
    stimuli/IAs/IA-<snippet>.ias                   token rectangles (areas of interest)
    stimuli/code_snippets/original_naming/*.py     the code the areas are placed on
    stimuli/comprehension_tasks/<CS-name>-task.py  the code that is run ("What will be printed …?")
    stimuli/comprehension_tasks_config.csv         ';'-separated, '$'-prefixed headers under a question line
    stimuli/naming_mapping.csv                     snippet id → the paper's CS-name

One example per (participant, session, trial): the snippet's code is the source, the question,
the task code and the lettered options fill the ``choice`` prompt, the target is the letter the
participant pressed (``KEY_STROKE``). ``meta`` carries what FixATE needs (see ``docs/fixate.md``):
the user, the slots (``slots: ias`` — each ``.ias`` area as a character span of the code — or
``slots: line`` — each code line that has an area) and the participant's dwell share per slot.

Quirks (each counted in :attr:`ComprehensionStudy.counts`, nothing dropped silently):
second-session files ``fix_report_P104 2.txt.gz`` (session 2 of the same participant);
snippet versions without ``.ias`` (trial skipped); ``10-117-*`` trials use ``IA-10-177-*`` and
``10-177-*.py``; fixations outside every area (counted per trial and in total, not in ``g``);
``KEY_STROKE`` ``.`` (no answer) and letters that are not an option of the trial (``d``: the
tasks have options a–c) are kept for attention and excluded from answer metrics.

Splits (seeded): ``content`` (default) puts all versions of a snippet in one split (no snippet of
the test split is seen in training); ``participant`` holds out whole participants, whose first
``new_user_shots`` trials go to training as ``adapt_only`` examples (they fit only that user's
``z_u``).
"""
from __future__ import annotations

import csv
import io
import logging
import random
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from gazelm.data.example import Example
from gazelm.data.sources import register_source
from gazelm.data.sources.common import check_split, check_task, fixed_tasks, limit, missing, nonempty, require_file
from gazelm.errors import GazelmInputError

log = logging.getLogger(__name__)
SLOT_KINDS = ("ias", "line")
SPLITS = ("content", "participant")
OPTIONAL_COLUMNS = ("TIME_TO_ANSWER", "CS_SUBJ_DIFFICULTY", "CS_UNDERSTANDING")  # kept in meta where present


# ----------------------------------------------------------------------------- stimuli files
@dataclass(frozen=True)
class TaskConfig:
    """One row of ``comprehension_tasks_config.csv``: option texts by letter and the correct letter."""

    snippet: str
    options: dict[str, str]
    correct: str


def read_tasks_config(path: str | Path) -> tuple[str, dict[str, TaskConfig]]:
    """``(question, {snippet id: TaskConfig})``; ``\\\\n`` inside options becomes a newline.

    An empty option, or a correct option that is not one of the row's letters, is an error naming
    the file, row and field.
    """
    path = require_file(path, "comprehension tasks config")
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    if len(lines) < 2:
        raise GazelmInputError("expected a question line and a header line", path=path)
    first = next(csv.reader([lines[0]], delimiter=";"))[0]
    quoted = re.search(r'"(.+?)"', first)
    question = (quoted.group(1) if quoted else first).strip()
    reader = csv.reader(io.StringIO("\n".join(lines[1:])), delimiter=";")
    header = [h.strip().lstrip("$") for h in next(reader)]
    for needed in ("code_snippet_id", "correct_option"):
        if needed not in header:
            raise GazelmInputError(f"missing column (have: {', '.join(header)})", path=path, row=2, field="$" + needed)
    letters = [h[len("option_"):] for h in header if h.startswith("option_")]
    tasks: dict[str, TaskConfig] = {}
    for rowno, row in enumerate(reader, start=3):
        if not any(cell.strip() for cell in row):
            continue
        cells = dict(zip(header, row + [""] * (len(header) - len(row))))
        options = {}
        for letter in letters:
            text = cells[f"option_{letter}"].replace("\\\\n", "\n").replace("\\n", "\n")
            if not text.strip():
                raise GazelmInputError(f"option {letter!r} is empty", path=path, row=rowno, field=f"$option_{letter}")
            options[letter.lower()] = text
        correct = cells["correct_option"].strip().lower()
        if correct not in options:
            raise GazelmInputError(f"correct option {correct!r} is not one of the options {sorted(options)}",
                                   path=path, row=rowno, field="$correct_option")
        snippet = cells["code_snippet_id"].strip()
        tasks[snippet] = TaskConfig(snippet, options, correct)
    return question, tasks


def read_naming(path: str | Path) -> dict[str, str]:
    """``naming_mapping.csv``: snippet id → the paper's name (``10-117-V1/V2`` expands to both)."""
    path = Path(path)
    if not path.exists():
        return {}
    out = {}
    for row in csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig")), delimiter=";"):
        if len(row) < 2 or row[0].startswith("Original"):
            continue
        original, final = row[0].strip(), row[1].strip()
        base, _, versions = original.partition("-V")
        if "/" in versions:
            for v in versions.split("/"):
                out[f"{base}-{v if v.startswith('V') else 'V' + v}"] = final
        else:
            out[original] = final
    return out


def snippet_files(snippet: str) -> list[str]:
    """File names to try for a snippet id (the id itself, then its documented alias ``10-117-*`` →
    ``10-177-*``), as the EyeLink format resolves them."""
    from gazelm.gaze.formats.eyelink import snippet_candidates

    return snippet_candidates(snippet)


def base_snippet(snippet: str) -> str:
    """The snippet without its version (``10-258-V2`` → ``10-258``), alias resolved."""
    return re.sub(r"-V\d+$", "", snippet_files(snippet)[-1])


# ----------------------------------------------------------------------------- trials
@dataclass
class Trial:
    """One participant reading one snippet and answering."""

    id: str
    user: str
    session: str
    trial: int
    snippet: str
    code: str
    task_code: str
    options: dict[str, str]
    correct: str
    key_stroke: str
    slots: list[tuple[int, int]]
    slot_labels: list[str]
    slot_classes: list[str]
    slot_dwell_ms: list[float]
    outside_fixations: int
    outside_ms: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def letters(self) -> list[str]:
        return sorted(self.options)

    @property
    def choice(self) -> int:
        """Index of the pressed key among the options, -1 when none (``.``) or not an option."""
        return self.letters.index(self.key_stroke) if self.key_stroke in self.options else -1

    @property
    def gaze(self) -> list[float]:
        total = sum(self.slot_dwell_ms)
        return [d / total for d in self.slot_dwell_ms] if total > 0 else [0.0] * len(self.slot_dwell_ms)


@dataclass
class ComprehensionStudy:
    question: str
    trials: list[Trial]
    counts: dict[str, Any]


def _area_classes(code: str, spans: list[tuple[int, int]]) -> list[str]:
    """Semantic label (gazelm's tree-sitter labels) of the first labelled token in each span."""
    from gazelm.code.tokens import label_tokens

    tokens = label_tokens(code, "python")
    out = []
    for start, end in spans:
        inside = [t for t in tokens if t.start < end and start < t.end]
        labelled = [t.label for t in inside if t.label]
        out.append(labelled[0] if labelled else (inside[0].text if inside and not inside[0].text.isalnum() else "other"))
    return out


def _line_slots(code: str, areas: list, dwell: list[float]) -> tuple[list, list, list]:
    """One slot per code line that has an area: span from its first to its last area."""
    lines: dict[int, list[int]] = {}
    for i, area in enumerate(areas):
        line = code.count("\n", 0, area.char_start) + 1
        lines.setdefault(line, []).append(i)
    spans, labels, ms = [], [], []
    for line, idx in sorted(lines.items()):
        start, end = min(areas[i].char_start for i in idx), max(areas[i].char_end for i in idx)
        spans.append((start, end))
        labels.append(f"line {line}")
        ms.append(sum(dwell[i] for i in idx))
    return spans, labels, ms


def _trial_value(trial_fix: pd.DataFrame, column: str, path: str) -> str:
    if column not in trial_fix.columns:
        raise GazelmInputError(f"missing column (the comprehension study needs {column})", path=path, row=1,
                               field=column)
    return str(trial_fix[column].iloc[0])


@lru_cache(maxsize=8)
def load_study(path: str, slots: str = "ias") -> ComprehensionStudy:
    """Every usable trial of the study under ``path`` and the counts of what was skipped."""
    from gazelm.gaze import read_fixations
    from gazelm.gaze.formats import open_format

    if slots not in SLOT_KINDS:
        raise GazelmInputError(f"unknown slots {slots!r}; expected one of {', '.join(SLOT_KINDS)}", field="slots")
    root = Path(path)
    reports = require_file(root / "fixation_reports", "EyeLink fixation reports folder")
    stimuli = root / "stimuli"
    ias_dir = require_file(stimuli / "IAs", "interest-area folder")
    code_dir = require_file(stimuli / "code_snippets" / "original_naming", "code snippets folder")
    question, tasks = read_tasks_config(stimuli / "comprehension_tasks_config.csv")
    naming = read_naming(stimuli / "naming_mapping.csv")

    eyelink = open_format("eyelink", interest_areas=ias_dir, code_snippets=code_dir)
    fix = read_fixations(reports, eyelink)
    for f in fix.attrs["files"]:
        if f["read"] == 0:
            raise GazelmInputError("fixation report has no trials (a participant with no data)", path=f["file"])
    counts: dict[str, Any] = {"trials_read": 0, "trials_used": 0, "skipped": {},
                              "fixations_read": fix.attrs["counts"]["read"], "fixations_outside_areas": 0,
                              "dwell_outside_areas_ms": 0.0, "no_answer": 0, "answer_not_an_option": 0}

    def skip(reason: str) -> None:
        counts["skipped"][reason] = counts["skipped"].get(reason, 0) + 1

    class_cache: dict[tuple, list[str]] = {}
    out: list[Trial] = []
    for (source_file, session, trial_index), trial_fix in fix.groupby(["source_file", "session", "trial"], sort=False):
        counts["trials_read"] += 1
        snippet = str(trial_fix["stimulus"].iloc[0])
        key = _trial_value(trial_fix, "KEY_STROKE", source_file).strip().lower()
        areas_by_id, code = eyelink.stimulus(snippet)
        if areas_by_id is None or code is None:
            skip("no .ias for the snippet version")
            continue
        task = next((tasks[n] for n in snippet_files(snippet) if n in tasks), None)
        if task is None:
            skip("no row in comprehension_tasks_config.csv")
            continue
        areas = [a for _, a in sorted(areas_by_id.items()) if a.char_start is not None]
        dwell = {a.id: 0.0 for a in areas}
        outside = trial_fix["aoi"].isna()
        for aoi, duration in zip(trial_fix.loc[~outside, "aoi"], trial_fix.loc[~outside, "duration_ms"]):
            dwell[int(aoi)] = dwell.get(int(aoi), 0.0) + float(duration)
        outside_n, outside_ms = int(outside.sum()), float(trial_fix.loc[outside, "duration_ms"].sum())
        in_area = [dwell[a.id] for a in areas]
        if sum(in_area) <= 0:
            skip("no fixation on any area")
            continue
        if slots == "ias":
            spans, labels, ms = [(a.char_start, a.char_end) for a in areas], [a.label for a in areas], in_area
        else:
            spans, labels, ms = _line_slots(code, areas, in_area)
        cache_key = (snippet_files(snippet)[-1], tuple(spans))
        if cache_key not in class_cache:
            class_cache[cache_key] = _area_classes(code, spans)
        final = next((naming[n] for n in snippet_files(snippet) if n in naming), None)
        task_path = stimuli / "comprehension_tasks" / f"{final}-task.py" if final else None
        task_code = task_path.read_text(encoding="utf-8").rstrip() if task_path and task_path.exists() else ""
        user = str(trial_fix["participant"].iloc[0])
        trial = Trial(id=f"{user}/s{session}/t{int(trial_index)}/{snippet}", user=user, session=str(session),
                      trial=int(trial_index), snippet=snippet, code=code, task_code=task_code,
                      options=task.options, correct=task.correct, key_stroke=key, slots=spans, slot_labels=labels,
                      slot_classes=class_cache[cache_key], slot_dwell_ms=ms, outside_fixations=outside_n,
                      outside_ms=outside_ms,
                      extra={c: str(trial_fix[c].iloc[0]) for c in OPTIONAL_COLUMNS if c in trial_fix.columns})
        counts["fixations_outside_areas"] += outside_n
        counts["dwell_outside_areas_ms"] += outside_ms
        if key not in task.options:
            counts["no_answer" if key in (".", "") else "answer_not_an_option"] += 1
        out.append(trial)
    out.sort(key=lambda t: (t.user, t.session, t.trial))
    counts["trials_used"] = len(out)
    counts["participants"] = len({t.user for t in out})
    log.info("eyelink_comprehension: %s", counts)
    return ComprehensionStudy(question, out, counts)


# ----------------------------------------------------------------------------- splits
def _fraction_count(n: int, fraction: float) -> int:
    return max(1, round(n * fraction)) if fraction > 0 and n > 2 else 0


def assign_splits(trials: list[Trial], split: str = "content", seed: int = 0, val_fraction: float = 0.15,
                  test_fraction: float = 0.25, new_user_shots: int = 0) -> dict[str, list[tuple[Trial, bool]]]:
    """``{split: [(trial, adapt_only)]}``; see the module docstring for the two schemes."""
    if split not in SPLITS:
        raise GazelmInputError(f"unknown split scheme {split!r}; expected one of {', '.join(SPLITS)}", field="split")
    key = base_snippet if split == "content" else (lambda t: t)
    units = sorted({base_snippet(t.snippet) for t in trials} if split == "content" else {t.user for t in trials})
    random.Random(seed).shuffle(units)
    n_test, n_val = _fraction_count(len(units), test_fraction), _fraction_count(len(units), val_fraction)
    where = {u: "test" for u in units[:n_test]}
    where.update({u: "val" for u in units[n_test:n_test + n_val]})
    out: dict[str, list[tuple[Trial, bool]]] = {"train": [], "val": [], "test": []}
    if split == "content":
        for t in trials:
            out[where.get(key(t.snippet), "train")].append((t, False))
        return out
    by_user: dict[str, list[Trial]] = {}
    for t in trials:
        by_user.setdefault(t.user, []).append(t)
    for user, own in by_user.items():
        own = sorted(own, key=lambda t: (t.session, t.trial))
        target = where.get(user, "train")
        if target == "train":
            out["train"] += [(t, False) for t in own]
            continue
        shots = own[:max(0, int(new_user_shots))]
        out["train"] += [(t, True) for t in shots]
        out[target] += [(t, False) for t in own[len(shots):]]
    return out


# ----------------------------------------------------------------------------- examples
def trial_example(trial: Trial, question: str, adapt_only: bool = False, answer_prefix: str = " ") -> Example:
    letters = trial.letters
    choices = [f"{answer_prefix}{letter.upper()}" for letter in letters]
    options_text = "\n".join(f"{letter.upper()}. {trial.options[letter]}" for letter in letters)
    gaze = trial.gaze
    return Example(id=trial.id, task="choice", source=trial.code,
                   target=choices[trial.choice if trial.choice >= 0 else letters.index(trial.correct)],
                   source_language="python", target_language="text",
                   meta={"user": trial.user, "snippet": trial.snippet, "session": trial.session, "trial": trial.trial,
                         "question": question, "task_code": trial.task_code, "options": options_text,
                         "option_texts": [trial.options[x] for x in letters], "choices": choices,
                         "choice": trial.choice, "correct": letters.index(trial.correct),
                         "key_stroke": trial.key_stroke, "slots": [list(s) for s in trial.slots],
                         "slot_target": gaze, "slot_dwell_ms": list(trial.slot_dwell_ms),
                         "slot_labels": list(trial.slot_labels), "slot_classes": list(trial.slot_classes),
                         "outside_fixations": trial.outside_fixations, "outside_ms": trial.outside_ms,
                         "adapt_only": bool(adapt_only), **{k.lower(): v for k, v in trial.extra.items()}})


def _default_path() -> str:
    from gazelm.config import default_data_dir

    return str(Path(default_data_dir()) / "eyelink-python")


@register_source("eyelink_comprehension", tasks=fixed_tasks({"choice": ("python", "text")}),
                 missing_files=lambda task, path=None, **_: missing(path or _default_path(),
                                                                    "EyeLink comprehension study folder"))
def load(task: str, split: str, path: str | None = None, slots: str = "ias", scheme: str = "content",
         seed: int = 0, val_fraction: float = 0.15, test_fraction: float = 0.25, new_user_shots: int = 0,
         answer_prefix: str = " ", max_examples: int | None = None) -> list[Example]:
    """Examples of ``split`` (``scheme``: content | participant; see the module docstring)."""
    check_task("eyelink_comprehension", task, ("choice",))
    check_split(split)
    path = path or _default_path()
    study = load_study(str(Path(path).resolve()), slots)
    chosen = assign_splits(study.trials, scheme, seed, val_fraction, test_fraction, new_user_shots)[split]
    examples = [trial_example(t, study.question, adapt, answer_prefix) for t, adapt in chosen]
    return nonempty(limit(examples, max_examples), f"eyelink_comprehension {split} ({scheme} split) in {path}")
