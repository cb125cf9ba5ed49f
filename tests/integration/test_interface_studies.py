"""RecGaze and AdSERP loaders on SYNTHETIC folders in the documented layouts (the real RecGaze
geometry, the real AdSERP participant ids): every kept session equals the generator's plan, every
documented quirk is a counted case, the splits are FixATE's."""
from __future__ import annotations

import csv
import shutil
from collections import Counter

import pytest

from gazelm.errors import GazelmInputError
from gazelm.interfaces.carousel import read_carousel_geometry
from gazelm.interfaces.sources import load_trials
from gazelm.interfaces.sources.recgaze import genre_name, user_key
from gazelm.interfaces.splits import per_user_split, screen_split
from tests.helpers.studies import adserp_folder, recgaze_folder


@pytest.fixture(scope="module")
def recgaze(shared_cache, data_dir):
    return recgaze_folder(shared_cache, data_dir)


@pytest.fixture(scope="module")
def adserp(shared_cache, data_dir):
    return adserp_folder(shared_cache, data_dir)


# ------------------------------------------------------------------------------------- RecGaze
def test_real_geometry(data_dir):
    geo = read_carousel_geometry(data_dir / "recgaze-meta" / "aoi_data.csv")
    assert geo.rows == list(range(1, 11))
    assert geo.posters[(1, 1)] == (76.0, 176.0, 418.0, 369.0)
    assert geo.posters[(10, 5)] == (1480.0, 3232.0, 1822.0, 3425.0)
    assert geo.headings[3] == (76.0, 785.0, 219.0, 828.0)
    assert geo.backward[1] == (51.0, 262.0, 72.0, 283.0) and geo.forward[1] == (1831.0, 262.0, 1852.0, 283.0)


@pytest.mark.parametrize("mode", ["strict", "closest"])
def test_recgaze_sessions_match_the_plan(recgaze, mode):
    root, plans = recgaze
    trials = load_trials("recgaze", path=root, fixation_aoi=mode, screens=(1, 40))
    assert len(trials.trials) == sum(1 for p in plans.values() if p.choice is not None
                                     and p.case not in ("failed_direct_search", "no_fixation_on_the_page"))
    for t in trials.trials:
        plan = plans[(t.user, t.info["screen"])]
        assert t.info["first_row"] == plan.first_row and t.choice == plan.choice
        assert t.info["horizontal_pages"] == [plan.pages[r] for r in range(plan.first_row, plan.first_row + 3)]
        expected = plan.dwell_strict if mode == "strict" else plan.dwell_closest
        assert t.dwell_ms == pytest.approx(expected)
        assert t.cursor_ms == pytest.approx(plan.cursor_ms)  # cursor durations are seconds in the file
        assert t.page.slots[t.choice].letter == "ABCDEFGHIJKLMNO"[plan.choice]
    c = trials.counts
    assert c["fixations"] == sum(plans[(t.user, t.info["screen"])].n_fixations for t in trials.trials)
    assert c["fixations"] == sum(v for k, v in c.items() if k.startswith("fixations_on_"))
    assert c["fixations_on_no_aoi"] == len(trials.trials)  # one fixation without an AOI per session


def test_recgaze_documented_quirks_are_counted(recgaze):
    root, plans = recgaze
    cases = Counter(p.case for p in plans.values() if p.case)
    every = load_trials("recgaze", path=root, screens=(1, 40)).counts
    # README "Missing or Erroneous Data": failed direct searches (the README writes KINIT_ for KInIT_)
    assert every["skipped_failed_direct_search"] == cases["failed_direct_search"] == 7
    assert user_key("KINIT_18") == user_key("KInIT_18")
    assert every["skipped_documented_missing_final_click"] == cases["documented_missing_final_click"] == 3
    assert every["skipped_no_selection"] == 1 and every["skipped_final_click_not_a_movie"] == 1
    assert every["skipped_click_not_on_the_displayed_page"] == 1
    assert every["skipped_no_fixation_dwell_on_the_page"] == 1
    default = load_trials("recgaze", path=root).counts  # screens 1-35, as FixATE
    assert default["sessions_outside_screens"] == 8 * 5 and "skipped_failed_direct_search" not in default


def test_recgaze_three_forward_swipes_wrap_around(recgaze):
    root, plans = recgaze
    (plan,) = [p for p in plans.values() if p.case == "three_forward_swipes"]
    (trial,) = load_trials("recgaze", path=root, users=["UvA_7"], screens=(10, 10)).trials
    assert trial.info["horizontal_pages"] == [plan.pages[r] for r in range(plan.first_row, plan.first_row + 3)]


def test_recgaze_genres_and_page_geometry(recgaze):
    root, _ = recgaze
    trials = {t.id: t for t in load_trials("recgaze", path=root, users=["UvA_7"]).trials}
    t = trials["recgaze:UvA_7:2"]
    genres = [x["text"] for x in t.page.render["texts"]]
    # screen 2 row 4 has no Carousel_genre in item_features: the permutation file's name, normalised
    permutation = ["Crime", "Fantasy", "Drama", "Horror", "Sci-Fi", "Thriller", "Romance", "Action", "Comedy",
                   "Animation"]
    assert genres == permutation[t.info["first_row"] - 1: t.info["first_row"] + 2]
    assert genre_name("Dramas") == "Drama" and genre_name("Sci-fi") == "Sci-Fi" and genre_name("Comedies") == "Comedy"
    # the first poster of the page: real box (76, y, 418, y + 193) scaled by 1100 / 1920
    x1, y1, x2, y2 = t.page.slots[0].box
    assert (x1, x2) == (round(76 * 1100 / 1920, 2), round(418 * 1100 / 1920, 2))
    assert y2 - y1 == pytest.approx(193 * 1100 / 1920, abs=0.02) and t.page.size == (1100, 600)
    assert [s.letter for s in t.page.slots] == list("ABCDEFGHIJKLMNO")


def test_recgaze_split_is_fixates_content_disjoint_split(recgaze):
    root, _ = recgaze
    trials = load_trials("recgaze", path=root).trials
    by_screen: dict[int, set[str]] = {}
    for t in trials:
        by_screen.setdefault(t.info["screen"], set()).add(t.split)
    assert all(len(s) == 1 for s in by_screen.values())
    split = screen_split(42)
    assert sorted(t for t, s in split.items() if s == "test") == [1, 4, 9, 21, 24, 32]
    assert sorted(t for t, s in split.items() if s == "val") == [7, 11, 29, 31]
    assert sum(1 for s in split.values() if s == "train") == 25
    assert {t.info["screen"]: t.split for t in trials} == {k: split[k] for k in by_screen}


def test_recgaze_bad_files(recgaze, tmp_path):
    root, _ = recgaze
    bad = tmp_path / "bad"
    shutil.copytree(root, bad)
    with pytest.raises(GazelmInputError, match="summary_feedback.csv.*row 3.*Fixation_Duration"):
        rows = (bad / "summary_feedback.csv").read_text().splitlines()
        head = rows[0].split(",")
        cells = rows[2].split(",")
        cells[head.index("Fixation_Duration")] = "long"
        rows[2] = ",".join(cells)
        (bad / "summary_feedback.csv").write_text("\n".join(rows) + "\n")
        load_trials("recgaze", path=bad)
    with open(bad / "user_features.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([["UserID", "Top_genre"], ["UvA_7", "Drama"]])
    with pytest.raises(GazelmInputError, match="user_features.csv.*missing columns: Preferred_genres"):
        load_trials("recgaze", path=bad)
    (bad / "click_feedback.csv").unlink()
    with pytest.raises(GazelmInputError, match="click_feedback.csv.*not found.*Zenodo"):
        load_trials("recgaze", path=bad)
    with pytest.raises(GazelmInputError, match="fixation_aoi"):
        load_trials("recgaze", path=root, fixation_aoi="nearest")


# -------------------------------------------------------------------------------------- AdSERP
def test_adserp_trials_match_the_plan(adserp):
    root, plans = adserp
    trials = load_trials("adserp", path=root)
    kept = [p for p in plans.values() if p.kept]
    assert len(trials.trials) == len(kept)
    for t in trials.trials:
        plan = plans[t.info["trial"]]
        assert t.info["scroll"] == plan.scroll and t.choice == plan.choice
        assert [s.box for s in t.page.slots] == [(x1, y1 - plan.scroll, x2, y2 - plan.scroll)
                                                 for _, (x1, y1, x2, y2) in plan.areas]
        assert t.dwell_ms == pytest.approx(plan.dwell)
        assert t.page.size == (1280, 922) and len(t.page.slots) <= 25
        assert t.fields["query"] and t.fields["persona"]


def test_adserp_documented_details(adserp):
    root, plans = adserp
    trials = {t.info["trial"]: t for t in load_trials("adserp", path=root).trials}
    counts = load_trials("adserp", path=root).counts
    by_case = {p.case: name for name, p in plans.items() if p.user == "p004"}
    assert by_case["space_delimited_mouse_log"] in trials           # "space-delimited" evtrack log read
    assert trials[by_case["screenshot_in_screen_recordings"]].page.render["path"].endswith(
        f"screen-recordings/{by_case['screenshot_in_screen_recordings']}.png")
    assert {s.kind for s in trials[by_case["organic_areas_given"]].page.slots} >= {"organic", "dd_top"}
    assert by_case["no_click"] not in trials and by_case["click_outside_every_area"] not in trials
    assert counts["skipped_no_click"] == counts["skipped_click_outside_every_area"] == 6
    assert trials[by_case["no_screenshot"]].page.render["path"] == ""
    assert counts["pages_drawn_without_a_screenshot"] == 6
    assert len(trials[by_case["more_than_25_areas"]].page.slots) == 25 and counts["areas_beyond_max_aois"] > 0
    assert trials[by_case["no_scroll"]].info["scroll"] == 0
    assert counts["fixations"] == counts["fixations_on_areas"] + counts["fixations_outside_every_area"]


def test_adserp_per_user_split(adserp):
    root, _ = adserp
    trials = load_trials("adserp", path=root).trials
    per_user = Counter(t.user for t in trials)
    for user, n in per_user.items():
        splits = Counter(t.split for t in trials if t.user == user)
        k_test = min(max(1, round(0.2 * n)), n - 1)
        assert splits["test"] == k_test and splits["val"] == min(max(1, round(0.15 * (n - k_test))), n - k_test - 1)
    assert per_user_split(["a", "a", "b"], seed=42) == per_user_split(["a", "a", "b"], seed=42)
    assert per_user_split(["solo"]) == ["train"]


def test_adserp_bad_files(adserp, tmp_path):
    root, plans = adserp
    bad = tmp_path / "bad"
    shutil.copytree(root, bad)
    name = next(iter(plans))
    (bad / "trial-metadata" / f"{name}.xml").write_text("<data><task>no slug here</task></data>")
    with pytest.raises(GazelmInputError, match=f"{name}.xml.*task"):
        load_trials("adserp", path=bad)
    shutil.copyfile(root / "trial-metadata" / f"{name}.xml", bad / "trial-metadata" / f"{name}.xml")
    shutil.copyfile(root / "fixation-data" / f"{name}.csv", bad / "fixation-data" / "p4-trial.csv")
    with pytest.raises(GazelmInputError, match="pNNN-bB-tT"):
        load_trials("adserp", path=bad)
    with pytest.raises(GazelmInputError, match="participants.csv not found.*15236546"):
        load_trials("adserp", path=tmp_path / "nothing")


# ------------------------------------------------------------------------- before anything loads
def test_missing_study_files_are_named_before_loading(recgaze, adserp, tmp_path):
    """What the preflight reports for data.source: nothing on complete folders; each file the
    loader would read and cannot find, by path; an unknown study with the known ones."""
    from gazelm.data.visual import VisualDataModule

    problems = VisualDataModule.source_problems
    assert problems({"name": "recgaze", "path": str(recgaze[0]), "max_examples": {"train": 4}}) == []
    assert problems({"name": "adserp", "path": str(adserp[0])}) == []
    (tmp_path / "recgaze").mkdir()
    for path in recgaze[0].iterdir():  # the folder without two of its files
        if path.name not in ("click_feedback.csv", "aoi_data.csv"):
            (tmp_path / "recgaze" / path.name).symlink_to(path)
    found = problems({"name": "recgaze", "path": str(tmp_path / "recgaze"), "geometry": None})
    assert found == [f"recgaze (Zenodo record 15270518 and aoi_data.csv of github.com/santideleon/RecGaze_Dataset): "
                     f"not found: {tmp_path / 'recgaze' / 'click_feedback.csv'}, {tmp_path / 'recgaze' / 'aoi_data.csv'}"
                     " (set data.source.path)"]
    assert problems({"name": "adserp", "path": str(tmp_path / "nowhere")}) == [
        f"adserp (the data folder of Zenodo record 15236546): not found: {tmp_path / 'nowhere' / 'participants.csv'}, "
        f"{tmp_path / 'nowhere' / 'fixation-data'} (set data.source.path)"]
    assert problems({"name": "recgaze", "path": None}) == ["recgaze needs data.source.path (the folder of the "
                                                           "Zenodo CSVs)"]
    assert problems({"name": "eyetrack_shop", "path": "x"}) == ["unknown interface study 'eyetrack_shop'; known: "
                                                                "adserp, recgaze"]


@pytest.mark.parametrize("study", ["recgaze", "adserp"])
def test_the_preflight_checks_the_study_folder(study, recgaze, adserp, tmp_path, shared_cache):
    """`gazelm train experiment=fixate_<study>` passes the preflight on a complete folder and stops,
    before building anything, with one line naming the missing files on an empty one."""
    from gazelm.preflight import config_problems
    from gazelm.training import train
    from tests.helpers.compose import compose_config, train_config

    folder = {"recgaze": recgaze, "adserp": adserp}[study][0]
    assert config_problems(compose_config([f"experiment=fixate_{study}", f"data.source.path={folder}"])) == []
    cfg = train_config(tmp_path, shared_cache, f"experiment=fixate_{study}", f"data.source.path={tmp_path}")
    with pytest.raises(GazelmInputError, match=rf"^the config cannot run: data: {study} .*: not found: "
                                               rf"{tmp_path}/\S+, {tmp_path}/"):
        train(cfg)
    assert not (tmp_path / "checkpoints").exists()
