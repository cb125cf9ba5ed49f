"""The EyeLink comprehension loader on the real shared files: every trial with an .ias is used, the
skipped trials and outside-area fixations are counted, dwell sums equal the raw durations."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from gazelm.data.sources.eyelink_comprehension import (assign_splits, base_snippet, load_study, read_tasks_config,
                                                       snippet_files)


@pytest.fixture(scope="module")
def root(data_dir: Path) -> Path:
    path = data_dir / "eyelink-python"
    if not path.is_dir():
        pytest.skip("eyelink-python is not in the data folder")
    return path


@pytest.fixture(scope="module")
def raw(root: Path) -> pd.DataFrame:
    frames = []
    for f in sorted((root / "fixation_reports").glob("*.txt.gz")):
        df = pd.read_csv(f, sep="\t", dtype=str, keep_default_na=False)
        df["file"] = f.name
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def _trial_id(row) -> str:
    session = row["file"].split(".txt")[0].partition(" ")[2] or "1"
    return f"{row['RECORDING_SESSION_LABEL']}/s{session}/t{int(row['TRIAL_INDEX'])}/{row['code_snippet_id']}"


def test_every_trial_with_an_ias_is_used(root: Path, raw: pd.DataFrame) -> None:
    study = load_study(str(root))
    _, tasks = read_tasks_config(root / "stimuli" / "comprehension_tasks_config.csv")
    trials = raw.drop_duplicates(["file", "TRIAL_INDEX"])
    has_ias = trials["code_snippet_id"].map(
        lambda s: any((root / "stimuli" / "IAs" / f"IA-{n}.ias").exists() for n in snippet_files(s)))
    expected = {_trial_id(r) for _, r in trials[has_ias].iterrows()}
    assert {t.id for t in study.trials} == expected
    assert all(t.snippet in tasks for t in study.trials)
    assert study.counts["trials_read"] == len(trials) == 213
    assert study.counts["skipped"] == {"no .ias for the snippet version": int((~has_ias).sum())}
    assert study.counts["trials_used"] == len(expected) == 174
    assert {t.user for t in study.trials} <= set(raw["RECORDING_SESSION_LABEL"])
    # the 10-117-* ↔ IA-10-177-* quirk: those trials are used
    assert any(t.snippet.startswith("10-117-") for t in study.trials)


def test_dwell_sums_equal_the_raw_durations(root: Path, raw: pd.DataFrame) -> None:
    study = load_study(str(root))
    raw = raw.assign(trial_id=raw.apply(_trial_id, axis=1))
    durations = raw.groupby("trial_id")["CURRENT_FIX_DURATION"].apply(lambda s: s.astype(float).sum())
    outside = raw[raw["CURRENT_FIX_INTEREST_AREA_ID"] == "."].groupby("trial_id").size()
    total_outside = 0
    for t in study.trials:
        assert sum(t.slot_dwell_ms) + t.outside_ms == pytest.approx(durations[t.id]), t.id
        assert t.outside_fixations == int(outside.get(t.id, 0)), t.id
        assert sum(t.gaze) == pytest.approx(1.0)
        total_outside += t.outside_fixations
    assert study.counts["fixations_outside_areas"] == total_outside > 0


def test_answers_not_among_the_options_are_counted(root: Path) -> None:
    study = load_study(str(root))
    unanswered = [t for t in study.trials if t.choice < 0]
    assert len(unanswered) == study.counts["no_answer"] + study.counts["answer_not_an_option"]
    assert {t.key_stroke for t in unanswered} <= {".", "d"}
    assert all(sorted(t.options) == ["a", "b", "c"] for t in study.trials)


def test_line_slots_carry_the_same_dwell(root: Path) -> None:
    areas, lines = load_study(str(root), "ias"), load_study(str(root), "line")
    for a, b in zip(areas.trials, lines.trials):
        assert a.id == b.id and sum(b.slot_dwell_ms) == pytest.approx(sum(a.slot_dwell_ms))
        assert len(b.slots) < len(a.slots)


def test_content_split_keeps_every_version_of_a_snippet_together(root: Path) -> None:
    study = load_study(str(root))
    splits = assign_splits(study.trials, "content", seed=0)
    bases = {name: {base_snippet(t.snippet) for t, _ in rows} for name, rows in splits.items()}
    assert not (bases["train"] & bases["test"]) and not (bases["train"] & bases["val"])
    assert sum(len(v) for v in splits.values()) == len(study.trials)
    assert assign_splits(study.trials, "content", seed=0) == splits
    assert assign_splits(study.trials, "content", seed=1) != splits


def test_participant_split_holds_out_people_with_shots(root: Path) -> None:
    study = load_study(str(root))
    splits = assign_splits(study.trials, "participant", seed=0, new_user_shots=2)
    held_out = {t.user for t, _ in splits["test"]} | {t.user for t, _ in splits["val"]}
    train_users = {t.user for t, adapt in splits["train"] if not adapt}
    assert held_out and not (held_out & train_users)
    shots = [t for t, adapt in splits["train"] if adapt]
    assert {t.user for t in shots} == held_out and len(shots) == 2 * len(held_out)
    for user in held_out:  # the shots are each held-out user's first trials
        own = sorted((t for t in study.trials if t.user == user), key=lambda t: (t.session, t.trial))
        assert [t.id for t in own[:2]] == [t.id for t in shots if t.user == user]
