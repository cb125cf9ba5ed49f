"""SYNTHETIC RecGaze and AdSERP folders — generated here, not measured on anyone.

Neither study's gaze is in ``../shared/data`` (it is on Zenodo), so tests and the CPU
experiments use folders written by this module in exactly the documented file layouts
(``recgaze-meta/README.md`` and ``adserp-meta/README.md`` are the specifications):

- RecGaze: ``summary_feedback.csv``, ``click_feedback.csv``, ``item_features.csv``,
  ``user_features.csv`` plus copies of the real ``aoi_data.csv`` and carousel permutation
  files. Fixations are placed with the real AOI geometry: a fixation lands inside its
  poster (strict AOI) or up to 60 px outside it (strict ``Background``, closest AOI = the
  poster), as the study assigned them.
- AdSERP: ``participants.csv`` (the real participant ids), per trial ``fixation-data``,
  ``ad-boundary-data``, ``mouse-movement-data``, ``trial-metadata`` and a drawn full-page
  screenshot.

Every documented quirk gets a case (see :data:`RECGAZE_CASES` and :data:`ADSERP_CASES`), and
the generator returns what each kept session must turn into (page rows, the chosen slot,
dwell per slot), computed from its own plan, so loader tests compare against the plan rather
than against the loader. Run ``python -m tests.synthetic_studies recgaze|adserp OUT_DIR``
to write one (the CPU experiments' commands in ``docs/fixate_visual.md`` do).
"""
from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

ROWS, COLUMNS, PAGES = 10, 5, 3
GENRES = ["Action", "Animation", "Comedy", "Crime", "Drama", "Fantasy", "Horror", "Romance", "Sci-Fi", "Thriller"]
RECGAZE_USERS = ["KInIT_18", "KInIT_21", "KInIT_28", "KInIT_46", "KInIT_51", "KInIT_61", "UvA_4", "UvA_7"]
# (user, screen) → quirk; every row of the README's "Missing or Erroneous Data" section is here
RECGAZE_CASES = {
    ("KInIT_18", 38): "failed_direct_search", ("KInIT_21", 38): "failed_direct_search",
    ("KInIT_28", 36): "failed_direct_search", ("KInIT_28", 37): "failed_direct_search",
    ("KInIT_28", 39): "failed_direct_search", ("KInIT_46", 36): "failed_direct_search",
    ("KInIT_61", 38): "failed_direct_search",
    ("KInIT_21", 18): "documented_missing_final_click", ("KInIT_51", 3): "documented_missing_final_click",
    ("UvA_4", 20): "documented_missing_final_click",
    ("UvA_7", 5): "no_selection",                    # not in click_feedback: the user selected nothing
    ("UvA_7", 6): "final_click_not_a_movie",         # the last click is on a genre heading
    ("UvA_7", 8): "click_not_on_the_displayed_page",  # clicked position is on a page the row does not show
    ("UvA_7", 10): "three_forward_swipes",           # wraps around to the first page (README)
    ("UvA_7", 12): "no_fixation_on_the_page",         # only background / heading fixations
}
EVENTS = ("type", "MovieID", "Movie_position_in_carousel", "Carousel_position", "Carousel_genre",
          "Carousel_genre_is_top_genre", "Carousel_genre_is_preferred_genre", "Carousel_genre_rating")
SUMMARY_COLUMNS = (["UserID", "SubjectID", "TaskID", "StimulusID", "Timestamp", "Fixation_Duration"]
                   + [f"Fixation_AOI_{c}" for c in EVENTS] + [f"Fixation_AOI_Closest_{c}" for c in EVENTS]
                   + [f"Click_AOI_{c}" for c in EVENTS] + ["Cursor_Duration"] + [f"Cursor_AOI_{c}" for c in EVENTS])
CLICK_COLUMNS = (["UserID", "SubjectID", "TaskID", "StimulusID", "Timestamp"] + [f"Click_AOI_{c}" for c in EVENTS]
                 + ["Movie_Familiarity", "Why_Selected"])


@dataclass
class SessionPlan:
    """What one synthetic session is, and what a correct loader must make of it."""

    user: str
    screen: int
    case: str = ""
    first_row: int = 1
    clicked: tuple[int, int] = (1, 1)      # (carousel, movie position)
    pages: dict[int, int] = field(default_factory=dict)
    dwell_strict: list[float] = field(default_factory=lambda: [0.0] * 15)
    dwell_closest: list[float] = field(default_factory=lambda: [0.0] * 15)
    cursor_ms: list[float] = field(default_factory=lambda: [0.0] * 15)
    choice: int | None = None
    n_fixations: int = 0


def _movie_id(screen: int, row: int, position: int) -> int:
    return 100000 + screen * 1000 + row * 20 + position


def _screen_genres(permutations_dir: Path) -> dict[int, list[str]]:
    """The real genre order of every screen (permutation files), names as the files write them."""
    out = {}
    for screens, name in ((range(1, 31), "free_browsing"), (range(31, 36), "semi_free"), (range(36, 41), "direct_search")):
        orders = json.loads((permutations_dir / f"final_balanced_carousel_permutations_for_{name}.json").read_text())
        out.update({s: o for s, o in zip(screens, orders)})
    return out


def _file_genre(name: str) -> str:
    return {"Comedies": "Comedy", "Dramas": "Drama", "Sci-fi": "Sci-Fi"}.get(name, name)


def write_synthetic_recgaze(out: str | Path, meta_dir: str | Path, users=RECGAZE_USERS, screens=range(1, 41),
                            seed: int = 0) -> dict[tuple[str, int], SessionPlan]:
    """Write a SYNTHETIC RecGaze folder at ``out``; ``meta_dir`` holds the real ``aoi_data.csv`` and
    permutation files (``recgaze-meta``). Returns the plan of every session by (user, screen)."""
    from gazelm.interfaces.carousel import read_carousel_geometry

    rng = random.Random(seed)
    out, meta_dir = Path(out), Path(meta_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name in ["aoi_data.csv", *(f"final_balanced_carousel_permutations_for_{k}.json"
                                   for k in ("free_browsing", "semi_free", "direct_search"))]:
        shutil.copyfile(meta_dir / name, out / name)
    geo = read_carousel_geometry(out / "aoi_data.csv")
    genres = _screen_genres(meta_dir)
    profiles = {u: (GENRES[i % 10], ", ".join(GENRES[(i + k) % 10] for k in range(3))) for i, u in enumerate(users)}

    items = []
    for screen in screens:
        for row in range(1, ROWS + 1):
            for position in range(1, PAGES * COLUMNS + 1):
                movie = _movie_id(screen, row, position)
                keep_genre = not (screen == 2 and row == 4)  # a row without Carousel_genre: the permutation file's
                items.append({"TMDB_id": movie, "TMDB_title": f"Synthetic film {screen}-{row}-{position}",
                              "TMDB_original_language": "en",
                              "TMDB_genres": f"{GENRES[(row + position) % 10]}, {GENRES[(row * 3) % 10]}",
                              "TaskID": screen, "Carousel_position": row,
                              "Carousel_genre": _file_genre(genres[screen][row - 1]) if keep_genre else "",
                              "MovieID": movie, "Movie_position_in_carousel": position})
    _write(out / "item_features.csv", list(items[0]), items)
    _write(out / "user_features.csv", ["UserID", "SubjectIDs", "Location", "Top_genre", "Preferred_genres"],
           [{"UserID": u, "SubjectIDs": 10 + i, "Location": "Bratislava" if u.startswith("KInIT") else "Amsterdam",
             "Top_genre": profiles[u][0], "Preferred_genres": profiles[u][1]} for i, u in enumerate(users)])

    summary, clicks, plans = [], [], {}
    for ui, user in enumerate(users):
        for screen in screens:
            case = RECGAZE_CASES.get((user, screen), "")
            plan = SessionPlan(user, screen, case)
            plans[(user, screen)] = plan
            rows = _session_events(plan, geo, genres[screen], profiles[user], rng, ui)
            summary += rows
            if case in ("documented_missing_final_click", "no_selection"):
                continue
            final = dict(rows[-1])  # the final click of the timeline
            clicks.append({**{c: final.get(c, "") for c in CLICK_COLUMNS},
                           "Movie_Familiarity": "I have never heard of the movie",
                           "Why_Selected": "Because of the poster"})
    _write(out / "summary_feedback.csv", SUMMARY_COLUMNS, summary)
    _write(out / "click_feedback.csv", CLICK_COLUMNS, clicks)
    return plans


def _aoi(prefix: str, kind: str, screen: int, row: int | None, position: int | None, genre_names: list[str],
         profile: tuple[str, str], na: str) -> dict[str, object]:
    genre = _file_genre(genre_names[row - 1]) if row else na
    values = {"type": kind, "MovieID": _movie_id(screen, row, position) if position else na,
              "Movie_position_in_carousel": position or na, "Carousel_position": row or na,
              "Carousel_genre": genre,
              "Carousel_genre_is_top_genre": ("Top_Genre" if genre == profile[0] else "Not_Top_Genre") if row else na,
              "Carousel_genre_is_preferred_genre": ("Preferred_Genre" if genre in profile[1] else "Not_Preferred_Genre")
              if row else na,
              "Carousel_genre_rating": (3 + (row % 3)) if row else na}
    return {f"{prefix}{k}": v for k, v in values.items()}


def _session_events(plan: SessionPlan, geo, genre_names: list[str], profile, rng: random.Random, ui: int) -> list[dict]:
    screen, case = plan.screen, plan.case
    base = {"UserID": plan.user, "SubjectID": 500 + ui, "TaskID": screen, "StimulusID": f"rec_{plan.user}_{screen}.mp4"}
    na = "NA" if (screen + ui) % 2 else ""   # the files write both "NA" and empty cells
    events, t = [], 0.4
    plan.first_row = rng.randint(1, ROWS - 2)
    window = list(range(plan.first_row, plan.first_row + 3))
    pages = {r: 0 for r in range(1, ROWS + 1)}

    def swipe(row: int, kind: str) -> None:
        nonlocal t
        t += 0.35
        events.append({**base, "Timestamp": round(t, 3), **_aoi("Click_AOI_", kind, screen, row, None, genre_names,
                                                                 profile, na)})
        pages[row] = (pages[row] + (1 if kind == "Forward" else -1)) % PAGES

    for row in window:  # browse the window's rows horizontally
        for _ in range(rng.choice([0, 0, 1, 2])):
            swipe(row, "Forward")
    if case == "three_forward_swipes":
        for _ in range(3):
            swipe(window[1], "Forward")
    swipe(window[0], "Forward")
    swipe(window[0], "Backward")  # a backward swipe undoes a forward one
    plan.pages = {r: pages[r] for r in window}
    n = 0 if case == "no_fixation_on_the_page" else rng.randint(10, 18)
    for i in range(n):
        row = window[i] if i < len(window) else rng.choice(window)  # every row of the page is looked at
        column = rng.randrange(COLUMNS)
        position = pages[row] * COLUMNS + column + 1
        slot = window.index(row) * COLUMNS + column
        duration = float(rng.randint(120, 650))
        box = geo.posters[(row, column + 1)]
        inside = i < len(window) or rng.random() < 0.75
        strict = _aoi("Fixation_AOI_", "Movie" if inside else "Background", screen, row if inside else None,
                      position if inside else None, genre_names, profile, na)
        closest = _aoi("Fixation_AOI_Closest_", "Movie", screen, row, position, genre_names, profile, na)
        _ = box  # the near-miss is within 60 px of this poster: its closest AOI is the poster
        t += duration / 1000 + 0.05
        events.append({**base, "Timestamp": round(t, 3), "Fixation_Duration": duration, **strict, **closest})
        plan.dwell_closest[slot] += duration
        if inside:
            plan.dwell_strict[slot] += duration
        plan.n_fixations += 1
        if rng.random() < 0.5:
            seconds = round(rng.uniform(0.2, 1.5), 3)
            t += 0.01
            events.append({**base, "Timestamp": round(t, 3), "Cursor_Duration": seconds,
                           **_aoi("Cursor_AOI_", "Movie", screen, row, position, genre_names, profile, na)})
            plan.cursor_ms[slot] += seconds * 1000
    # fixations that are not on the page's posters: a heading, a swipe button, a poster of another
    # row, the background (strict and closest), and one with no AOI at all
    outside = [("Genre", window[0], None), ("Forward", window[1], None), ("Background", None, None)]
    other_rows = [r for r in range(1, ROWS + 1) if not window[0] - 2 <= r <= window[-1] + 2]  # in no candidate page
    if other_rows and case != "no_fixation_on_the_page":
        outside.append(("Movie", other_rows[0], pages[other_rows[0]] * COLUMNS + 1))
    for kind, row, position in outside:
        t += 0.3
        events.append({**base, "Timestamp": round(t, 3), "Fixation_Duration": 200.0,
                       **_aoi("Fixation_AOI_", kind, screen, row, position, genre_names, profile, na),
                       **_aoi("Fixation_AOI_Closest_", kind, screen, row, position, genre_names, profile, na)})
        plan.n_fixations += 1
    t += 0.3
    events.append({**base, "Timestamp": round(t, 3), "Fixation_Duration": 150.0})  # a fixation with no AOI
    plan.n_fixations += 1
    if case in ("documented_missing_final_click", "no_selection"):
        return events  # no final click anywhere in the data
    # the final click: a movie shown on the page (or a quirk)
    row = rng.choice(window)
    column = rng.randrange(COLUMNS)
    position = pages[row] * COLUMNS + column + 1
    kind = "Movie"
    if case == "final_click_not_a_movie":
        kind, position = "Genre", None
    elif case == "click_not_on_the_displayed_page":
        position = ((pages[row] + 1) % PAGES) * COLUMNS + column + 1
    plan.clicked = (row, position or 0)
    if kind == "Movie" and case != "click_not_on_the_displayed_page":
        plan.choice = window.index(row) * COLUMNS + column
    t += 0.5
    events.append({**base, "Timestamp": round(t, 3),
                   **_aoi("Click_AOI_", kind, screen, row, position, genre_names, profile, na)})
    return events


# --------------------------------------------------------------------------- AdSERP
ADSERP_SCREEN, ADSERP_WINDOW = (1280, 1024), (1422, 1137)
ADSERP_SCALE = ADSERP_SCREEN[0] / ADSERP_WINDOW[0]
ADSERP_VIEW_HEIGHT = round(ADSERP_SCREEN[1] * ADSERP_SCALE)
QUERIES = ["buy momentum brands 9 led flashlight", "buy noise cancelling headphones", "buy trail running shoes",
           "buy cast iron skillet", "buy usb c hub", "buy yoga mat", "buy espresso machine", "buy desk lamp"]
# trial index (per user) → documented detail or case it exercises
ADSERP_CASES = {1: "space_delimited_mouse_log", 2: "screenshot_in_screen_recordings", 3: "organic_areas_given",
                4: "no_click", 5: "click_outside_every_area", 6: "no_screenshot", 7: "more_than_25_areas",
                8: "no_scroll"}


@dataclass
class TrialPlan:
    name: str
    user: str
    case: str = ""
    scroll: int = 0
    areas: list[tuple[str, tuple[float, float, float, float]]] = field(default_factory=list)  # page px, visible, sorted
    choice: int | None = None
    dwell: list[float] = field(default_factory=list)
    kept: bool = True


def write_synthetic_adserp(out: str | Path, meta_dir: str | Path, users: int = 6, trials_per_user: int = 9,
                           seed: int = 0) -> dict[str, TrialPlan]:
    """Write a SYNTHETIC AdSERP ``data`` folder at ``out`` (participants from the real
    ``adserp-meta/data/participants.csv``). Returns the plan of every trial by name."""
    from PIL import Image, ImageDraw, ImageFont

    rng = random.Random(seed)
    out, meta_dir = Path(out), Path(meta_dir)
    for folder in ("fixation-data", "ad-boundary-data", "mouse-movement-data", "trial-metadata",
                   "full-page-screenshots", "screen-recordings", "organic-aoi-data"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    with open(meta_dir / "data" / "participants.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))[:users]
        columns = list(rows[0])
    _write(out / "participants.csv", columns, rows)
    plans: dict[str, TrialPlan] = {}
    font = ImageFont.load_default(size=14)
    for row in rows:
        user = row["participant_id"]
        for t in range(1, trials_per_user + 1):
            name = f"{user}-b1-t{t}"
            case = ADSERP_CASES.get(t, "")
            plan = TrialPlan(name, user, case)
            plans[name] = plan
            doc_css = rng.randint(2300, 3000)
            doc_px = round(doc_css * ADSERP_SCALE)
            # areas in screenshot (page) pixels: a top ad, native ads, a right-hand ad on some pages
            ads = {"native_ad": [], "dd_top": [], "dd_right": []}
            y = 150
            ads["dd_top"].append((162, y, 586, 300))
            y += 320
            n_native = 30 if case == "more_than_25_areas" else rng.randint(2, 4)
            for _ in range(n_native):
                h = rng.choice([90, 108, 129]) if case != "more_than_25_areas" else 12
                ads["native_ad"].append((162, y, 540, h))
                y += h + (18 if case != "more_than_25_areas" else 2)
            if t % 2 == 0:
                ads["dd_right"].append((800, 160, 380, 500))
            organic = []
            if case == "organic_areas_given":
                oy = y + 20
                for rank in range(1, 4):
                    organic.append({"rank": rank, "title": f"Result {rank}", "site": f"shop{rank}.example",
                                    "x_left": 162, "y_top": oy, "x_right": 702, "y_bot": oy + 100})
                    oy += 120
                (out / "organic-aoi-data" / f"{name}.json").write_text(json.dumps({"organic": organic}))
            (out / "ad-boundary-data" / f"{name}.json").write_text(json.dumps({
                kind: [{"location": {"x": x, "y": yy}, "size": {"height": h, "width": w}} for x, yy, w, h in boxes]
                for kind, boxes in ads.items()}, indent=1))
            all_areas = [("organic", (o["x_left"], o["y_top"], o["x_right"], o["y_bot"])) for o in organic]
            all_areas += [(k, (x, yy, x + w, yy + h)) for k in ("native_ad", "dd_top", "dd_right")
                          for x, yy, w, h in ads[k]]
            plan.scroll = 0 if case in ("no_scroll", "more_than_25_areas") else rng.choice([0, 120, 240, 400])
            view = (plan.scroll, plan.scroll + ADSERP_VIEW_HEIGHT)
            visible = []
            for kind, (x1, y1, x2, y2) in all_areas:
                c1, c2 = max(y1, view[0]), min(y2, view[1])
                if c2 > c1:
                    visible.append((kind, (x1, c1, x2, c2)))
            visible.sort(key=lambda a: (a[1][1], a[1][0]))
            plan.areas = visible[:25]
            plan.dwell = [0.0] * len(plan.areas)
            # timeline (ms): load, moves, scrolls, fixations in the final view, the click
            t0 = 1671196599000 + t * 100000
            mouse = [(t0, 0, 0, "load", "/")]
            fixations = []
            clock = t0 + 300
            for _ in range(3 if plan.scroll else 0):  # fixations before the last scroll: outside the final view
                clock += 250
                fixations.append((clock, rng.randint(100, 1200), rng.randint(100, 900), 210))
            if plan.scroll:
                clock += 100
                mouse.append((clock, 0, round(plan.scroll / 2 / ADSERP_SCALE), "scroll", "/"))
                clock += 150
                mouse.append((clock, 0, round(plan.scroll / ADSERP_SCALE), "scroll", "/"))
            target = rng.randrange(len(plan.areas))
            for _ in range(rng.randint(6, 12)):
                clock += rng.randint(150, 500)
                i = rng.randrange(len(plan.areas)) if rng.random() < 0.8 else None
                if i is None:  # on the page background, right of every area
                    fx, fy = 1240, plan.scroll + rng.randint(10, ADSERP_VIEW_HEIGHT - 10)
                else:
                    x1, y1, x2, y2 = plan.areas[i][1]
                    fx, fy = rng.randint(int(x1) + 1, int(x2) - 2), rng.randint(int(y1) + 1, int(y2) - 2)
                d = rng.randint(100, 600)
                fixations.append((clock, fx, fy, d))
                if i is not None and _first_hit(plan.areas, fx, fy) is not None:
                    plan.dwell[_first_hit(plan.areas, fx, fy)] += d
                mouse.append((clock + 5, round(fx / ADSERP_SCALE), round((fy - plan.scroll) / ADSERP_SCALE),
                              "mousemove", "/html/body"))
            clock += 400
            x1, y1, x2, y2 = plan.areas[target][1]
            cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
            if case == "click_outside_every_area":
                cx, cy = 1250, plan.scroll + 5
            css = (round(cx / ADSERP_SCALE), round((cy - plan.scroll) / ADSERP_SCALE))
            if case != "no_click":
                mouse.append((clock, css[0], css[1], "click", "/html/body/div[@id='rso']/div[2]"))
                hit = _first_hit(plan.areas, css[0] * ADSERP_SCALE, css[1] * ADSERP_SCALE + plan.scroll)
                plan.choice = hit
            plan.kept = plan.choice is not None
            clock += 800
            fixations.append((clock, 600, plan.scroll + 300, 300))  # after the click: outside the final view
            _write_table(out / "fixation-data" / f"{name}.csv", ["timestamp", "FPOGX", "FPOGY", "FPOGD"], fixations)
            _write_table(out / "mouse-movement-data" / f"{name}.csv", ["timestamp", "xpos", "ypos", "event", "xpath"],
                         mouse, sep=" " if case == "space_delimited_mouse_log" else ",")
            (out / "trial-metadata" / f"{name}.xml").write_text(
                f"<data><ip>::1</ip><date>12/16/2022 14:16:39</date><timestamp>{t0 // 1000}</timestamp>"
                f"<url>http://localhost/page.php?q={QUERIES[t % len(QUERIES)].replace(' ', '-')}</url><ua>Mozilla/5.0</ua>"
                f"<screen>{ADSERP_SCREEN[0]}x{ADSERP_SCREEN[1]}</screen><window>{ADSERP_WINDOW[0]}x{ADSERP_WINDOW[1]}</window>"
                f"<document>1403x{doc_css}</document>"
                f"<task>batch_1_trial_{t} | {QUERIES[t % len(QUERIES)].replace(' ', '-')}</task></data>")
            if case != "no_screenshot":
                shot = Image.new("L", (ADSERP_SCREEN[0], doc_px), 255)  # greyscale: small and quick to write
                draw = ImageDraw.Draw(shot)
                draw.rectangle([160, 60, 860, 100], outline=200, width=2)
                draw.text((175, 70), QUERIES[t % len(QUERIES)], fill=30, font=font)
                for kind, (x1, y1, x2, y2) in all_areas:
                    draw.rectangle([x1, y1, x2 - 1, y2 - 1], fill=245 if kind != "organic" else 255, outline=210)
                    draw.text((x1 + 8, y1 + 6), "Sponsored" if kind != "organic" else "Result", fill=40, font=font)
                folder = "screen-recordings" if case == "screenshot_in_screen_recordings" else "full-page-screenshots"
                shot.save(out / folder / f"{name}.png", compress_level=1)
    return plans


def _first_hit(areas, x: float, y: float) -> int | None:
    return next((i for i, (_, (x1, y1, x2, y2)) in enumerate(areas) if x1 <= x < x2 and y1 <= y < y2), None)


def _write_table(path: Path, columns, rows, sep: str = ",") -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(sep.join(columns) + "\n")
        for r in rows:
            fh.write(sep.join(str(v) for v in r) + "\n")


def _write(path: Path, columns, rows) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore", restval="")
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write a SYNTHETIC RecGaze or AdSERP folder (documented layouts).")
    parser.add_argument("study", choices=["recgaze", "adserp"])
    parser.add_argument("out")
    parser.add_argument("--data-dir", default=None, help="the shared data folder (default: $GAZELM_DATA_DIR)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from gazelm.config import default_data_dir

    data_dir = Path(args.data_dir or default_data_dir())
    if args.study == "recgaze":
        plans = write_synthetic_recgaze(args.out, data_dir / "recgaze-meta", seed=args.seed)
    else:
        plans = write_synthetic_adserp(args.out, data_dir / "adserp-meta", seed=args.seed)
    print(f"wrote a SYNTHETIC {args.study} folder with {len(plans)} sessions to {args.out}")


if __name__ == "__main__":
    main()
