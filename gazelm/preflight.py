"""Check a training config before anything is built or trained.

``config_problems(cfg)`` looks at one composed ``gazelm train`` config without loading data
or models: the data source provides the task and its files are there, every metric applies
to the task's target language (and its resources are installed), the objective builds, has
the gaze it trains with and suits the backbone kind, the gaze provider builds, a hub model
is cached when the hub is offline. :mod:`gazelm.callbacks.hydra_jobs` runs it on every job of
a multirun before the first job starts; :func:`gazelm.training.train` on single runs.

``gaze_problem(...)`` looks at the first training batches once they exist: a gaze
objective whose gaze values are the same on every loss position (all 1.0 when no token
carries gaze) would train its gaze-free baseline, so the run stops with what to set,
unless ``allow_unweighted: true``.
"""
from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any, Iterable

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from gazelm.errors import GazelmInputError

#: Batches of the training split whose gaze values the objective is checked on.
GAZE_CHECK_BATCHES = 8
_ALLOW = "allow_unweighted=true"


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node


def _error(err: BaseException) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


def _source_problems(cfg: DictConfig) -> list[str]:
    from hydra.utils import get_class

    from gazelm.data.sources import SOURCES, missing_source_files, source_tasks

    source = _plain(cfg.data.source)
    own = getattr(get_class(cfg.data._target_), "source_problems", None) if cfg.data.get("_target_") else None
    if own is not None:  # a DataModule that reads its own kind of source (interface studies: gazelm.data.visual)
        return [f"data: {m}" for m in own(source)]
    name, task = source.get("name"), cfg.task.name
    options = {k: v for k, v in source.items() if k not in ("name", "max_examples")}
    if name not in SOURCES:
        return [f"data: unknown source {name!r}; known: {', '.join(SOURCES.names())}"]
    if "tasks" not in SOURCES.meta(name):
        return []  # a user's source without metadata: checked when it loads
    tasks = source_tasks(name, **options)
    if task not in tasks:
        return [f"data: source {name!r} has no {task!r} task (it provides: {', '.join(tasks)}); drop the data= "
                f"override to use task={task}'s default data, or pick a source that has it"]
    return [f"data: {m}" for m in missing_source_files(name, task, **options)]


def _metric_problems(cfg: DictConfig) -> list[str]:
    from gazelm.metrics import METRICS, metric_applies, metric_languages

    generation = (cfg.get("callbacks") or {}).get("generation")
    if not generation:
        return []
    language = cfg.task.get("target_language")
    problems = []
    for name in generation.get("metrics") or []:
        if name not in METRICS:
            problems.append(f"metric {name!r} is not registered; known: {', '.join(METRICS.names())}")
        elif not metric_applies(name, language):
            problems.append(f"metric {name!r} cannot score task={cfg.task.name} targets in language {language!r} "
                            f"(it applies to {metric_languages(name)}); remove it from task.metrics (or "
                            "callbacks.generation.metrics)")
        elif (check := METRICS.meta(name).get("check")) and (message := check()):
            problems.append(f"metric {name!r}: {message}")
    return problems


def _model_problems(cfg: DictConfig) -> list[str]:
    name = cfg.model.get("name_or_path")
    if not name or Path(str(name)).exists():
        return []
    if str(name).startswith((".", "/", "~")):
        return [f"model: local path {name} not found (model.name_or_path)"]
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        from huggingface_hub import try_to_load_from_cache

        if not isinstance(try_to_load_from_cache(str(name), "config.json"), str):
            return [f"model: {name} is not in the Hugging Face cache and HF_HUB_OFFLINE is set "
                    "(download it once with network, or point model.name_or_path at a local copy)"]
    return []


def _objective_problems(cfg: DictConfig) -> list[str]:
    try:
        objective = instantiate(cfg.objective)
    except Exception as err:  # noqa: BLE001 - any constructor error is a config problem
        return [f"objective: {_error(err)}"]
    problems = []
    kind = cfg.model.get("kind")
    if objective.needs_causal_model and kind != "causal":
        problems.append(f"objective: {type(objective).__name__} with these options needs a causal model "
                        f"(model.kind={kind})")
    if objective.uses_gaze and not cfg.get("gaze") and not cfg.get("allow_unweighted"):
        problems.append(f"objective: {type(objective).__name__} trains with gaze but gaze=none (the default), so it "
                        "would train plain cross-entropy; set gaze=eyemulator_priors (or itrace_java, eyelink_python, "
                        f"from_file), or {_ALLOW} to train without gaze on purpose")
    if cfg.get("gaze"):
        try:
            instantiate(cfg.gaze)
        except Exception as err:  # noqa: BLE001
            problems.append(f"gaze: {_error(err)}")
    return problems


def config_problems(cfg: DictConfig) -> list[str]:
    """Everything wrong with one composed train config, as one line each (empty: fine)."""
    from gazelm.registry import import_plugins

    try:
        import_plugins(cfg.get("plugins"))
    except GazelmInputError as err:
        return [str(err)]
    problems = []
    for check in (_source_problems, _metric_problems, _objective_problems, _model_problems):
        try:
            problems += check(cfg)
        except Exception as err:  # noqa: BLE001 - a check that cannot run is itself a problem to report
            problems.append(f"{check.__name__.strip('_').replace('_problems', '')}: {_error(err)}")
    return problems


def check_config(cfg: DictConfig) -> None:
    """Raise :class:`GazelmInputError` listing every problem of ``cfg``."""
    problems = config_problems(cfg)
    if problems:  # one line, as every CLI error
        raise GazelmInputError("the config cannot run: " + "; ".join(problems))


def gaze_problem(objective: Any, batches: Iterable[dict]) -> str | None:
    """The objective's verdict on the first :data:`GAZE_CHECK_BATCHES` training batches."""
    if not objective.uses_gaze:
        return None
    return objective.gaze_problem(list(itertools.islice(batches, GAZE_CHECK_BATCHES)))


def check_gaze_signal(cfg: DictConfig, datamodule: Any, objective: Any) -> None:
    """Stop a gaze objective that would train without gaze information (see the module docstring)."""
    if cfg.get("allow_unweighted") or not cfg.get("train", True):
        return
    problem = gaze_problem(objective, datamodule.train_dataloader())
    if problem:
        raise GazelmInputError(f"{problem} (task={cfg.task.name}, first {GAZE_CHECK_BATCHES} training batches); "
                               f"or {_ALLOW} to train it anyway")
