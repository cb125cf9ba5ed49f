"""Gaze providers: annotations, caching, None for non-code, from_file rows, configs."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from gazelm.gaze.annotation import GazeAnnotation
from gazelm.gaze.priors import GazePriors, LabelBeta, save_priors
from gazelm.gaze.providers import EyelinkPythonProvider, FromFileProvider, ItraceJavaProvider, PriorsGazeProvider

CODE = "int f(int a) {\n  if (a > 0) { return g(a); }\n  return 0;\n}\n"
CONF = Path(__file__).resolve().parents[2] / "conf" / "gaze"


@pytest.fixture()
def priors_dir(tmp_path):
    labels = ("function declaration", "parameter", "conditional statement", "conditional block", "return",
              "function call", "argument", "literal", "operator", "variable")
    pri = GazePriors({s: LabelBeta(s, 5, 10, 6.0, 6.0) for s in labels},
                     {("return", "function call"): 9, ("return",): 3}, {"ngram_order": "ordered"})
    return save_priors(pri, tmp_path / "pri")


def test_annotation_spans_weights_mask(priors_dir):
    p = PriorsGazeProvider(priors=str(priors_dir), seed=1)
    ann = p.annotate(CODE, "java", "k1")
    assert isinstance(ann, GazeAnnotation)
    assert all(CODE[a:b].strip() == CODE[a:b] and b > a for a, b in ann.spans)
    assert len(ann.spans) == len(ann.weights) == len(ann.mask) and ann.attention is None
    for w, m in zip(ann.weights, ann.mask):
        assert (w == 1.0) if not m else (w >= 3.0 + 1 / math.log(9 + 2))
    assert sum(ann.mask) > 0


def test_none_for_unknown_language_and_empty(priors_dir):
    p = PriorsGazeProvider(priors=str(priors_dir))
    assert p.annotate("Sort the list.", "text", "k") is None
    assert p.annotate("", "java", "k") is None


def test_cache_and_settings_in_key(priors_dir):
    p = PriorsGazeProvider(priors=str(priors_dir), seed=1)
    a = p.annotate(CODE, "java", "k1")
    assert p.annotate(CODE, "java", "other-key") is a and len(p.cache) == 1
    q = PriorsGazeProvider(priors=str(priors_dir), seed=1, weights_variant="uniform")
    assert q.annotate(CODE, "java", "k1").weights != a.weights or sum(a.mask) == 0
    # a fresh provider with the same settings draws the same pseudo-scanpath
    assert PriorsGazeProvider(priors=str(priors_dir), seed=1).annotate(CODE, "java", "x") == a


def test_from_file_rows(tmp_path, priors_dir):
    code = "int f(int a) { return a; }"
    rows = [{"code_content_hash": "abc", "code": code, "code_tokens": ["return", "f", "nan", "a", "a"],
             "mask": [1, 0, 0, 1, 0], "ngrams": ["return", None, None, "return", None],
             "order_sequence": [1, 0, 0, 2, 0]},
            {"id": "ex-2", "code": "x", "code_tokens": ["x"], "weights": [2.5]}]
    f = tmp_path / "rows.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    p = FromFileProvider(str(f), priors=str(priors_dir))
    ann = p.annotate(code, "java", "abc-1")
    # tokens sorted by position; "nan" is not in the code and is left out
    assert ann.spans == [(4, 5), (10, 11), (15, 21), (22, 23)]
    w_return = 3.0 + 1 / math.log(3 + 2) + 0.5
    assert ann.weights == [1.0, pytest.approx(w_return), pytest.approx(w_return), 1.0]
    assert ann.mask == [0, 1, 1, 0]
    assert p.annotate(code, "java", "abc") == ann
    assert p.annotate("other code", "java", "abc-1") is None
    assert p.annotate(code, "java", "missing") is None
    assert p.annotate("x", "python", "ex-2").weights == [2.5]


def test_shipped_priors_providers_load():
    assert ItraceJavaProvider().annotate(CODE, "java", "k") is not None
    py = "def f(x):\n    return x\n"
    ann = EyelinkPythonProvider().annotate(py, "python", "k")
    assert ann is not None and ann.attention is None


def test_gaze_configs():
    assert yaml.safe_load((CONF / "none.yaml").read_text()) is None
    for name in ("eyemulator_priors", "itrace_java", "eyelink_python", "from_file"):
        cfg = yaml.safe_load((CONF / f"{name}.yaml").read_text())
        assert cfg["_target_"].startswith("gazelm.gaze.providers.")
        for key in ("weights_variant", "w_base", "seed", "priors"):
            assert key in cfg, (name, key)


def test_cache_is_bounded_oldest_first(priors_dir):
    p = PriorsGazeProvider(priors=str(priors_dir), seed=1, cache_size=2)
    first, second, third = (p.annotate(CODE.replace("a", name), "java", "k") for name in ("x", "y", "z"))
    assert len(p.cache) == 2
    assert p.annotate(CODE.replace("a", "z"), "java", "k") is third      # kept
    assert p.annotate(CODE.replace("a", "x"), "java", "k") is not first  # the oldest went first
    off = PriorsGazeProvider(priors=str(priors_dir), seed=1, cache_size=0)
    assert off.annotate(CODE, "java", "k") == off.annotate(CODE, "java", "k") and off.cache == {}


def test_same_priors_in_another_folder_draw_the_same_scanpaths(tmp_path):
    # the pseudo-scanpath seed comes from the priors' contents, not from where they are stored, so a run
    # is reproduced on another machine (and the gaze check before training sees the same weights)
    import shutil

    from gazelm.gaze.priors import RESOURCE_DIR

    code = "\n".join(f"int f{i}(int a, int b) {{ int c = g(a, b) + {i}; if (c > b) {{ return c; }} return a; }}"
                     for i in range(6))
    annotations = []
    for folder in ("here", "there"):
        shutil.copytree(RESOURCE_DIR / "itrace_java", tmp_path / folder)
        annotations.append(PriorsGazeProvider(priors=str(tmp_path / folder)).annotate(code, "java", "x"))
    assert annotations[0].mask == annotations[1].mask and annotations[0].weights == annotations[1].weights
    assert any(annotations[0].mask)
