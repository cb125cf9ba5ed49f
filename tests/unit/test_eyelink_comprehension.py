"""The EyeLink comprehension loader on a small study in the upstream layout (written here), and its
bad input: a snippet without .ias (counted skip), an empty option, a participant with no trials,
an answer letter that is not one token."""
from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from gazelm.data.choice import answer_token_ids
from gazelm.data.sources.eyelink_comprehension import assign_splits, load, load_study, read_tasks_config
from gazelm.errors import GazelmInputError

HEADER = ["RECORDING_SESSION_LABEL", "TRIAL_INDEX", "CURRENT_FIX_INDEX", "CURRENT_FIX_DURATION", "CURRENT_FIX_X",
          "CURRENT_FIX_Y", "CURRENT_FIX_INTEREST_AREA_ID", "code_snippet_id", "KEY_STROKE"]
CODE = "x = 1\nprint(x)\n"
IAS = ("# EyeLink Interest Area Set\n"
       "RECTANGLE\t1\t0\t0\t10\t10\tx\n"
       "RECTANGLE\t2\t10\t0\t20\t10\t=\n"
       "RECTANGLE\t3\t20\t0\t30\t10\t1\n"
       "RECTANGLE\t4\t0\t10\t60\t20\tprint(x)\n")
CONFIG = ('"Task for all snippets: ""What will be printed if you run the following code?"" ";;;;;\n'
          "$code_snippet_id;$option_a;$option_b;$option_c;$code_img_name;$correct_option\n"
          "S1-V1;1;x;an error\\\\nreally;S1-V1.png;a\n"
          "S2-V1;0;1;2;S2-V1.png;b\n")


def _report(path: Path, rows: list[list]) -> None:
    text = "\t".join(HEADER) + "\n" + "".join("\t".join(str(v) for v in r) + "\n" for r in rows)
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(text)


def study(tmp_path: Path, config: str = CONFIG) -> Path:
    root = tmp_path / "eyelink"
    (root / "fixation_reports").mkdir(parents=True)
    (root / "stimuli" / "IAs").mkdir(parents=True)
    (root / "stimuli" / "code_snippets" / "original_naming").mkdir(parents=True)
    (root / "stimuli" / "comprehension_tasks").mkdir(parents=True)
    (root / "stimuli" / "IAs" / "IA-S1-V1.ias").write_text(IAS)
    (root / "stimuli" / "code_snippets" / "original_naming" / "S1-V1.py").write_text(CODE)
    (root / "stimuli" / "comprehension_tasks_config.csv").write_text(config)
    (root / "stimuli" / "naming_mapping.csv").write_text("Original Name;Final Name\nS1-V1;CS-01\n")
    (root / "stimuli" / "comprehension_tasks" / "CS-01-task.py").write_text("print(x)\n")
    _report(root / "fixation_reports" / "fix_report_P900.txt.gz", [
        ["P900", 1, 1, 100, 5, 5, 1, "S1-V1", "b"],
        ["P900", 1, 2, 300, 25, 5, 3, "S1-V1", "b"],
        ["P900", 1, 3, 50, 500, 500, ".", "S1-V1", "b"],   # outside every area
        ["P900", 1, 4, 100, 5, 5, 1, "S1-V1", "b"],
        ["P900", 2, 1, 80, 5, 5, 1, "S2-V1", "a"],         # S2-V1 has no .ias: skipped, counted
    ])
    _report(root / "fixation_reports" / "fix_report_P900 2.txt.gz", [   # second session
        ["P900", 1, 1, 40, 5, 15, 4, "S1-V1", "d"],        # 'd' is not an option (a–c)
    ])
    load_study.cache_clear()
    return root


def test_trials_dwell_and_counts(tmp_path: Path) -> None:
    s = load_study(str(study(tmp_path)))
    assert s.question == "What will be printed if you run the following code?"
    assert [t.id for t in s.trials] == ["P900/s1/t1/S1-V1", "P900/s2/t1/S1-V1"]
    first, second = s.trials
    assert first.slot_dwell_ms == [200.0, 0.0, 300.0, 0.0] and first.outside_ms == 50.0
    assert first.outside_fixations == 1 and first.gaze == [0.4, 0.0, 0.6, 0.0]
    assert first.slots == [(0, 1), (2, 3), (4, 5), (6, 14)]
    assert first.choice == 1 and second.choice == -1 and second.session == "2"
    assert first.options["c"] == "an error\nreally" and first.task_code == "print(x)"
    assert s.counts["skipped"] == {"no .ias for the snippet version": 1}
    assert s.counts["trials_read"] == 3 and s.counts["answer_not_an_option"] == 1
    assert s.counts["fixations_outside_areas"] == 1 and s.counts["dwell_outside_areas_ms"] == 50.0


def test_line_slots_sum_the_areas_of_each_line(tmp_path: Path) -> None:
    root = study(tmp_path)
    s = load_study(str(root), "line")
    first = s.trials[0]
    assert first.slots == [(0, 5), (6, 14)] and first.slot_dwell_ms == [500.0, 0.0]
    assert first.slot_labels == ["line 1", "line 2"]


def test_examples_carry_what_fixate_needs(tmp_path: Path) -> None:
    root = study(tmp_path)
    examples = load("choice", "train", path=str(root), test_fraction=0.0, val_fraction=0.0)
    e = examples[0]
    assert e.target == " B" and e.meta["choices"] == [" A", " B", " C"] and e.meta["choice"] == 1
    assert e.meta["correct"] == 0 and e.meta["user"] == "P900" and e.meta["slot_target"] == [0.4, 0.0, 0.6, 0.0]
    assert e.meta["options"].splitlines()[0] == "A. 1"
    unanswered = examples[1]
    assert unanswered.meta["choice"] == -1 and unanswered.target == " A"  # the correct letter, no label


def test_empty_option_names_file_row_field(tmp_path: Path) -> None:
    bad = CONFIG.replace("S2-V1;0;1;2", "S2-V1;0;;2")
    path = tmp_path / "config.csv"
    path.write_text(bad)
    with pytest.raises(GazelmInputError) as err:
        read_tasks_config(path)
    assert "row 4" in str(err.value) and "$option_b" in str(err.value)


def test_correct_option_must_be_an_option(tmp_path: Path) -> None:
    path = tmp_path / "config.csv"
    path.write_text(CONFIG.replace("S1-V1.png;a", "S1-V1.png;d"))
    with pytest.raises(GazelmInputError, match="correct option 'd'"):
        read_tasks_config(path)


def test_participant_with_no_trials_is_an_error(tmp_path: Path) -> None:
    root = study(tmp_path)
    _report(root / "fixation_reports" / "fix_report_P901.txt.gz", [])
    with pytest.raises(GazelmInputError):
        load_study(str(root))


def test_answer_letter_must_be_one_token() -> None:
    class Tok:
        def __call__(self, text, add_special_tokens=False):
            return {"input_ids": [1] if text in (" A", " B") else [2, 3]}

        def convert_ids_to_tokens(self, ids):
            return [f"t{i}" for i in ids]

    assert answer_token_ids(Tok(), [" A", " B"]) == [1, 1]
    with pytest.raises(GazelmInputError, match="answer ' C' is 2 tokens"):
        answer_token_ids(Tok(), [" A", " C"], where="P1/t1")


def test_splits_are_disjoint_and_seeded(tmp_path: Path) -> None:
    s = load_study(str(study(tmp_path)))
    trials = s.trials * 1
    a = assign_splits(trials, "participant", seed=0, val_fraction=0.0, test_fraction=0.0)
    assert len(a["train"]) == 2 and not a["test"]
