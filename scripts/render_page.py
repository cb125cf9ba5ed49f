#!/usr/bin/env python
"""Draw one trial's interface page as the model sees it, with its slot boxes outlined, to a PNG.

    python scripts/render_page.py recgaze <RecGaze folder> page.png [--trial 0] [--poster-dir posters/]
    python scripts/render_page.py adserp <AdSERP data folder> page.png --trial 3

Checks a download (geometry, letters, posters) before training; docs/fixate_visual.md shows one.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from gazelm.interfaces.render import draw_slot_boxes, render_page
from gazelm.interfaces.sources import load_trials


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("study", help="recgaze | adserp")
    parser.add_argument("path", help="the study's folder (data.source.path)")
    parser.add_argument("out", help="PNG to write")
    parser.add_argument("--trial", type=int, default=0, help="index of the trial among the kept ones")
    parser.add_argument("--poster-dir", default=None)
    parser.add_argument("--no-boxes", action="store_true", help="the page alone, as the model sees it")
    args = parser.parse_args()
    trial = load_trials(args.study, path=args.path).trials[args.trial]
    image = render_page(trial.page, args.poster_dir)
    if not args.no_boxes:
        image = draw_slot_boxes(image, trial.page)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    image.save(args.out)
    answer = trial.page.slots[trial.choice].letter if trial.choice is not None else "-"
    print(f"{trial.id}: {len(trial.page.slots)} slots, answer {answer}, split {trial.split} -> {args.out}")


if __name__ == "__main__":
    main()
