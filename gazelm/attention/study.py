"""The alignment study of Kou et al. (FSE 2024): operators × models on labelled prompts → Table 3.

``gazelm align`` is a thin Hydra front end to :func:`run_from_config`; ``gazelm align score``
to :func:`score_files`. The study writes, in its output directory:

- ``human.jsonl``: ``{"prompt", "spans": [[start, end], ...], "dataset", "prompt_id"}`` (half-open);
- ``attention.jsonl``: ``{"method", "model", "prompt", "tokens": [[text, score], ...]}``;
- ``summary.csv``: one row per (method, model, K) with P, R, F1 and Krippendorff's α
  (:data:`COLUMNS`), then the mean over models (model ``average``).

Operators are options of the ``operator`` config group (``conf/operator/<name>.yaml`` or any
directory on Hydra's search path), composed through Hydra and instantiated
(:func:`compose_operator`); models are backbone specs built by
:func:`gazelm.models.backbones.build_backbone` (:func:`backbone_spec`).
"""
from __future__ import annotations

import json
import logging
import math
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from gazelm.attention.probe import OperatorSpec, probe_texts
from gazelm.errors import GazelmInputError
from gazelm.metrics.alignment import score_prompts
from gazelm.progress import progress

log = logging.getLogger(__name__)
COLUMNS = ["method", "model", "k", "precision", "recall", "f1", "krippendorff_alpha", "n_prompts"]
AVERAGE = "average"
Span = tuple[int, int]


# ---------------------------------------------------------------- scoring (pure)
def summarise(model_rows: Iterable[dict], human: dict[str, list[Span]], ks: Sequence[int],
              skip_unlabelled: bool = False) -> pd.DataFrame:
    """Table 3 rows per (method, model, k), then the mean over models per (method, k)."""
    groups: dict[tuple[str, str], list] = defaultdict(list)
    for row in model_rows:
        spans = human[row["prompt"]]
        if skip_unlabelled and not spans:
            continue
        groups[(row["method"], row["model"])].append((row["prompt"], [tuple(t) for t in row["tokens"]], spans))
    records = [{"method": method, "model": model, **cell}
               for (method, model), examples in groups.items() for cell in score_prompts(examples, ks)]
    table = pd.DataFrame.from_records(records, columns=COLUMNS)
    if table.empty:
        return table
    metrics = ["precision", "recall", "f1", "krippendorff_alpha", "n_prompts"]
    mean = table.groupby(["method", "k"], sort=False)[metrics].mean().reset_index()
    mean["model"] = AVERAGE
    mean["n_prompts"] = mean["n_prompts"].round().astype(int)
    return pd.concat([table, mean[COLUMNS]], ignore_index=True)


def format_table(table: pd.DataFrame) -> str:
    """Method × (K, metric) grid, as in Kou et al.'s Table 3."""
    wide = table.pivot_table(index="method", columns="k", values=["precision", "recall", "f1", "krippendorff_alpha"],
                             sort=False)
    wide = wide.swaplevel(0, 1, axis=1).sort_index(axis=1, level=0, sort_remaining=False)
    return wide.to_string(float_format=lambda x: f"{x:.3f}")


def format_tables(table: pd.DataFrame) -> str:
    """One grid per model, then the mean over models."""
    parts = []
    for model in [m for m in table["model"].unique() if m != AVERAGE]:
        parts += [f"== {model}", format_table(table[table["model"] == model])]
    parts += [f"== {AVERAGE} over models", format_table(table[table["model"] == AVERAGE])]
    return "\n".join(parts)


# ---------------------------------------------------------------- files
def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # JSON true is not 1


def _is_score(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def read_human(path: str | Path) -> dict[str, list[Span]]:
    """``{"prompt", "spans": [[start, end], ...]}`` rows → prompt → half-open spans."""
    from gazelm.data.sources.common import read_jsonl

    human: dict[str, list[Span]] = {}
    for lineno, row in read_jsonl(path, required=("prompt",)):
        spans = row.get("spans")
        if not isinstance(spans, list) or not all(
                isinstance(s, list) and len(s) == 2 and all(_is_int(v) for v in s)
                and 0 <= s[0] <= s[1] <= len(row["prompt"]) for s in spans):
            raise GazelmInputError("expected a list of [start, end] integer pairs inside the prompt", path=path,
                                   row=lineno, field="spans")
        human[row["prompt"]] = [tuple(s) for s in spans]
    return human


def read_model(path: str | Path, human: dict[str, list[Span]]) -> list[dict]:
    """``{"method", "model", "prompt", "tokens": [[text, score], ...]}`` rows, each prompt in ``human``."""
    from gazelm.data.sources.common import read_jsonl

    rows = []
    for lineno, row in read_jsonl(path, required=("method", "model", "prompt")):
        tokens = row.get("tokens")
        if not isinstance(tokens, list) or not all(isinstance(t, list) and len(t) == 2 and isinstance(t[0], str)
                                                   and _is_score(t[1]) for t in tokens):
            raise GazelmInputError("expected a list of [text, score] pairs (scores finite numbers)", path=path,
                                   row=lineno, field="tokens")
        if row["prompt"] not in human:
            raise GazelmInputError("prompt has no row in the human attention file", path=path, row=lineno,
                                   field="prompt")
        rows.append(row)
    return rows


def check_ks(ks: Sequence[Any], field: str = "ks") -> list[int]:
    """The cut-offs K: positive integers."""
    bad = [k for k in ks if not _is_int(k) or k < 1]
    if bad or not ks:
        raise GazelmInputError(f"K must be positive integers, got {', '.join(map(str, bad)) or 'none'}", field=field)
    return list(ks)


def score_files(human_path: str | Path, model_paths: Sequence[str | Path], ks: Sequence[int],
                skip_unlabelled: bool = False) -> pd.DataFrame:
    """Score model attention files against a human attention file (``gazelm align score``)."""
    ks = check_ks(ks, "--k")
    human = read_human(human_path)
    rows = [row for path in model_paths for row in read_model(path, human)]
    return summarise(rows, human, ks, skip_unlabelled)


# ---------------------------------------------------------------- operators and models
def compose_operator(name: str, overrides: Mapping[str, Any] | None = None) -> OperatorSpec:
    """Option ``name`` of the ``operator`` config group, merged with ``overrides``, instantiated.

    Composed by Hydra (``+operator=<name>`` on an empty primary config), so it is found on the
    running app's search path (``hydra.searchpath`` adds a user's config directories) and may
    inherit from another option through its ``defaults``. The result is labelled with the
    option's name unless its config sets ``label``.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from hydra.errors import InstantiationException, MissingConfigException
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from gazelm.config import conf_dir

    hydra_overrides = [f"+operator={name}"]
    if HydraConfig.initialized() and HydraConfig.get().searchpath:
        hydra_overrides.append(f"hydra.searchpath=[{','.join(HydraConfig.get().searchpath)}]")

    def _compose():
        try:
            return compose(overrides=hydra_overrides)
        except MissingConfigException:
            known = ", ".join(GlobalHydra.instance().config_loader().get_group_options("operator"))
            raise GazelmInputError(f"no operator config {name!r} in the `operator` config group (known: {known}; "
                                   "add a directory with hydra.searchpath)", field="operators") from None

    if GlobalHydra.instance().is_initialized():
        node = _compose().operator
    else:
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            node = _compose().operator
    if "_target_" not in node:
        raise GazelmInputError(f"operator config {name!r} has no `_target_` (docs/alignment.md)", field="operators")
    if overrides:
        node = OmegaConf.merge(node, OmegaConf.create(dict(overrides)))
    try:
        spec = instantiate(node)
    except InstantiationException as err:  # e.g. an operator no module registered (plugins:)
        raise GazelmInputError(f"operator config {name!r}: {err.__cause__ or err}", field="operators") from None
    if not isinstance(spec, OperatorSpec):
        raise GazelmInputError(f"operator config {name!r} builds a {type(spec).__name__}, not an OperatorSpec",
                               field="operators")
    if node.get("label") is None:
        spec.label = name
    return spec


TINY_KEYS = {"arch", "vocab_size", "hidden_size", "d_model", "layers", "heads", "max_positions", "seed"}


def backbone_spec(entry: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """A ``models:`` entry → ``(name, build_backbone keyword arguments)``.

    An entry is a backbone spec (the keys of ``conf/model/*.yaml``: ``kind``, ``name_or_path``,
    ``config``, ``tokenizer``, ``dtype``, ...) plus ``name``; ``kind`` defaults to ``auto``, and
    a model built from ``config`` gets a BPE tokenizer trained on the prompts. The shorthand
    ``{"name", "tiny": {arch, vocab_size, hidden_size, layers, heads, seed}}`` is a tiny random
    Llama (``arch: causal``) or T5 (``seq2seq``). Probing tokenizers keep leading spaces in their
    offsets (``trim_offsets: false``), so probed pieces concatenate back to the prompt.
    """
    from gazelm.models.backbones import tiny_config

    spec = dict(entry)
    name = spec.pop("name", None)
    tiny = spec.pop("tiny", None)
    if tiny:
        tiny = dict(tiny)
        unknown = set(tiny) - TINY_KEYS
        if unknown:
            raise GazelmInputError(f"unknown keys {sorted(unknown)} in a tiny model; expected {sorted(TINY_KEYS)}",
                                   field="models.tiny")
        kind = tiny.get("arch", "causal")
        sizes = {"hidden_size": tiny.get("hidden_size", tiny.get("d_model", 32)), "layers": tiny.get("layers", 2),
                 "heads": tiny.get("heads", 2), "max_positions": tiny.get("max_positions", 1024)}
        spec = {"kind": kind, "config": tiny_config(kind, **sizes), "seed": tiny.get("seed"),
                "tokenizer": {"train": True, "vocab_size": int(tiny.get("vocab_size", 512))}, **spec}
        name = name or f"tiny-{kind}"
    spec.setdefault("kind", "auto")
    if spec.get("config") is not None:
        spec["tokenizer"] = {"train": True, "trim_offsets": False, **(spec.get("tokenizer") or {})}
    spec.setdefault("attn_implementation", "eager")
    return name or str(spec.get("name_or_path")), spec


def probe_backbone(entry: Mapping[str, Any], texts: Sequence[str], cache_dir: str | Path | None = None):
    """``(name, model in eval mode, tokenizer)`` of a ``models:`` entry (:func:`backbone_spec`)."""
    import torch

    from gazelm.models.backbones import build_backbone, detect_kind

    name, spec = backbone_spec(entry)
    if spec["kind"] == "auto":
        if not spec.get("name_or_path") or spec.get("config") is not None:
            raise GazelmInputError("`kind: auto` reads the kind from a checkpoint: give `name_or_path` (or set "
                                   "`kind: causal | seq2seq` with `config`)", field="models.kind")
        spec["kind"] = detect_kind(spec["name_or_path"])
    seed = spec.pop("seed", None)
    if seed is not None:
        torch.manual_seed(int(seed))
    backbone = build_backbone(**spec, corpus=texts, cache_dir=str(cache_dir) if cache_dir else None)
    return name, backbone.model.eval(), backbone.tokenizer


# ---------------------------------------------------------------- the study
def run_study(prompts: Sequence[Any], operators: Sequence[OperatorSpec], models: Sequence[Mapping[str, Any]],
              ks: Sequence[int], output_dir: str | Path, batch_size: int = 8, seed: int = 0,
              skip_unlabelled: bool = False, cache_dir: str | Path | None = None) -> pd.DataFrame:
    """Probe every (model, operator) on ``prompts`` (:class:`~gazelm.data.sources.kou_labels.KouPrompt`),
    write the three files and return the summary table."""
    import torch

    ks = check_ks(ks)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    texts = [p.text for p in prompts]
    human = {p.text: p.span_tuples() for p in prompts}
    with open(out / "human.jsonl", "w", encoding="utf-8") as fh:
        for p in prompts:
            fh.write(json.dumps({"prompt": p.text, "spans": [list(s) for s in p.span_tuples()],
                                 "dataset": p.dataset, "prompt_id": p.prompt_id}) + "\n")
    rows = []
    with open(out / "attention.jsonl", "w", encoding="utf-8") as fh:
        for model_spec in models:
            torch.manual_seed(int(seed))
            name, model, tokenizer = probe_backbone(model_spec, texts, cache_dir)
            for spec in operators:
                with progress(f"{spec.label} on {name}", total=len(texts), unit="prompts") as advance:
                    scored = probe_texts(model, tokenizer, texts, spec, int(batch_size), on_batch=advance)
                for text, tokens in zip(texts, scored):
                    row = {"method": spec.label, "model": name, "prompt": text,
                           "tokens": [[piece, score] for piece, score, _ in tokens]}
                    rows.append(row)
                    fh.write(json.dumps(row) + "\n")
    table = summarise(rows, human, list(ks), skip_unlabelled)
    table.to_csv(out / "summary.csv", index=False)
    return table


def run_from_config(cfg) -> pd.DataFrame:
    """``gazelm align``'s config (``conf/align.yaml``) → :func:`run_study`."""
    from omegaconf import OmegaConf

    from gazelm.data.sources.kou_labels import load_kou_labels
    from gazelm.registry import import_plugins

    import_plugins(cfg.get("plugins"))
    prompts = load_kou_labels(cfg.dataset, cfg.labels_path)
    if cfg.max_prompts is not None:
        prompts = prompts[: int(cfg.max_prompts)]
    names = [cfg.operators] if isinstance(cfg.operators, str) else list(cfg.operators)
    overrides = OmegaConf.to_container(cfg.operator_overrides, resolve=True) or {}
    operators = [compose_operator(name, overrides.get(name)) for name in names]
    models = OmegaConf.to_container(cfg.models, resolve=True)
    return run_study(prompts, operators, models, list(cfg.ks), cfg.output_dir, batch_size=int(cfg.batch_size),
                     seed=int(cfg.seed), skip_unlabelled=bool(cfg.skip_unlabelled), cache_dir=cfg.cache_dir)
