"""Config values checked against the types they will be used as, before anything is built.

Two sources say what a value must be:

1. the type annotations of the ``_target_`` a config node is passed to
   (``trainer.max_epochs`` → ``Trainer(max_epochs: Optional[int])``);
2. for a value overridden on the command line where no annotation says (plain dicts such as
   ``optim``, ``data.source``, ``model.config``), the type of the value the config would have
   without the override (``optim.lr: 5e-4`` → a number).

``gazelm train trainer.max_epochs=abc`` then stops with one line naming the key and the type,
instead of a traceback from deep inside Lightning after the data was tokenized.
"""
from __future__ import annotations

import inspect
import os
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from enum import Enum
from pathlib import PurePath
from typing import Any, Literal, Union

from omegaconf import DictConfig, ListConfig, OmegaConf

from gazelm.errors import GazelmInputError

_UNKNOWN = None  # an annotation this checker has no opinion about
_PRIMITIVE = (bool, int, float, str, type(None))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def accepts(annotation: Any, value: Any) -> bool | None:
    """Whether ``value`` (a plain config value) fits ``annotation``; ``None`` when it cannot tell."""
    if annotation in (Any, inspect.Parameter.empty) or isinstance(annotation, (str, typing.TypeVar)):
        return _UNKNOWN
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (Union, types.UnionType):
        verdicts = [accepts(a, value) for a in args]
        return True if True in verdicts else _UNKNOWN if _UNKNOWN in verdicts else False
    if origin is Literal:
        return any(value == a and type(value) is type(a) for a in args)
    if annotation is type(None):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return _is_number(value)
    if annotation is str:
        return isinstance(value, str)
    container = origin or annotation
    if _is_container(container, Mapping):
        return True if isinstance(value, (dict, DictConfig)) else False if isinstance(value, _PRIMITIVE) else _UNKNOWN
    if _is_container(container, Iterable):
        if isinstance(value, (list, tuple, ListConfig)):
            return True
        return False if _is_number(value) or isinstance(value, bool) else _UNKNOWN
    if inspect.isclass(annotation):
        if issubclass(annotation, (PurePath, Enum, os.PathLike)):  # built from a string
            return _UNKNOWN if isinstance(value, str) else False if isinstance(value, (int, float, bool)) else _UNKNOWN
        if isinstance(value, (bool, int, float, str)):  # a plain value is no instance of a class
            return isinstance(value, annotation)
    return _UNKNOWN


def _is_container(cls: Any, kind: type) -> bool:
    """A builtin or ``collections.abc`` container type (not any class that happens to be iterable)."""
    plain = cls in (list, tuple, set, frozenset, dict) or getattr(cls, "__module__", "") == "collections.abc"
    return plain and isinstance(cls, type) and issubclass(cls, kind) and cls is not str


def describe(annotation: Any) -> str:
    """``Optional[int]`` → ``an integer or null``."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (Union, types.UnionType):
        literals = [v for a in args if typing.get_origin(a) is Literal for v in typing.get_args(a)]
        parts = [describe(a) for a in args if typing.get_origin(a) is not Literal]
        if literals:
            parts.insert(0, describe(Literal[tuple(dict.fromkeys(literals))]))
        return " or ".join(dict.fromkeys(parts))
    if origin is Literal:
        return "one of " + ", ".join(map(repr, args))
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string", type(None): "null"}
    if annotation in names:
        return names[annotation]
    container = origin or annotation
    if _is_container(container, Mapping):
        return "a mapping"
    if _is_container(container, Iterable):
        return "a list"
    return getattr(annotation, "__name__", str(annotation))


def _hints(target: str) -> dict[str, Any]:
    from hydra.utils import get_object

    try:
        obj = get_object(target)
        fn = obj.__init__ if inspect.isclass(obj) else obj
        return typing.get_type_hints(fn)
    except Exception:  # noqa: BLE001 - an unimportable or unannotated target: Hydra reports it when building
        return {}


def _value(node: DictConfig, key: str) -> tuple[bool, Any]:
    try:
        value = node[key]
    except Exception:  # noqa: BLE001 - an interpolation only resolvable later
        return False, None
    return (True, value) if isinstance(value, _PRIMITIVE) or isinstance(value, (DictConfig, ListConfig)) else (False, None)


def target_nodes(node: Any, path: str = "") -> Iterable[tuple[str, DictConfig]]:
    """Every config node with a ``_target_`` and its dotted path (``trainer``, ``callbacks.generation``)."""
    if isinstance(node, DictConfig) and not node._is_none():
        if "_target_" in node:
            yield path, node
        for key in node.keys():
            child = node._get_node(key)
            if isinstance(child, (DictConfig, ListConfig)):
                yield from target_nodes(child, f"{path}.{key}" if path else str(key))
    elif isinstance(node, ListConfig) and not node._is_none():
        for i in range(len(node)):
            yield from target_nodes(node._get_node(i), f"{path}[{i}]")


def annotation_problems(cfg: DictConfig) -> tuple[dict[str, str], set[str]]:
    """``key -> problem`` for values that do not fit their ``_target_``'s annotations, and the keys checked."""
    problems: dict[str, str] = {}
    checked: set[str] = set()
    for path, node in target_nodes(cfg):
        if path == "hydra" or path.startswith("hydra."):
            continue
        hints = _hints(str(node._target_))
        for key in node.keys():
            if str(key).startswith("_") or key not in hints:
                continue
            name = f"{path}.{key}" if path else str(key)
            checked.add(name)
            ok, value = _value(node, key)
            if not ok or (isinstance(value, DictConfig) and "_target_" in value):
                continue
            if accepts(hints[key], value) is False:
                child = node._get_node(key)
                source = f" (from {child._value()})" if child._is_interpolation() else ""
                problems[name] = f"expected {describe(hints[key])}, got {value!r}{source}"
    return problems, checked


def _baseline(overrides: Sequence[str], config_name: str) -> DictConfig | None:
    """The config composed with only the group choices of ``overrides`` (``model=tiny_causal``)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from gazelm.config import conf_dir

    groups = {p.name for p in conf_dir().iterdir() if p.is_dir()}
    choices = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") in groups]
    try:
        if GlobalHydra.instance().is_initialized():
            return compose(config_name=config_name, overrides=choices)
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            return compose(config_name=config_name, overrides=choices)
    except Exception:  # noqa: BLE001 - without a baseline the annotations alone are checked
        return None


def override_problems(cfg: DictConfig, overrides: Sequence[str], config_name: str = "train",
                      known: Iterable[str] = ()) -> dict[str, str]:
    """``key -> problem`` for command-line values whose type differs from the value they replace."""
    values = []
    for override in overrides:
        key = override.split("=", 1)[0]
        if "=" not in override or key.startswith(("+", "~", "hydra.", "hydra/")) or key in known:
            continue
        values.append(key)
    if not values:
        return {}
    baseline = _baseline(overrides, config_name)
    if baseline is None:
        return {}
    problems = {}
    for key in values:
        default = OmegaConf.select(baseline, key, default=None, throw_on_resolution_failure=False)
        try:
            value = OmegaConf.select(cfg, key, throw_on_resolution_failure=True)
        except Exception:  # noqa: BLE001
            continue
        expected = type(default)
        if value is None:  # null: "none" / "draw one" (seed=null) is the target's business
            continue
        if expected is bool:
            bad = not isinstance(value, bool)
        elif expected is int:
            bad = not isinstance(value, int) or isinstance(value, bool)
        elif expected is float:
            bad = not _is_number(value)
        else:
            continue
        if bad:
            what = {bool: "true or false", int: "an integer", float: "a number"}[expected]
            problems[key] = f"expected {what} (like its default {default!r}), got {value!r}"
    return problems


def check_config_types(cfg: DictConfig, overrides: Sequence[str] | None = None, config_name: str = "train") -> None:
    """Raise one :class:`GazelmInputError` naming every wrongly typed key (``overrides``: the
    command line's; by default those of the running Hydra job)."""
    if overrides is None:
        from hydra.core.hydra_config import HydraConfig

        overrides = list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
    problems, checked = annotation_problems(cfg)
    from_overrides = override_problems(cfg, overrides, config_name, known=checked)
    # a value interpolated from a wrongly typed override is reported once, at its source
    problems = {k: v for k, v in problems.items() if not any(v.endswith(f"(from ${{{src}}})") for src in from_overrides)}
    problems.update(from_overrides)
    if len(problems) == 1:
        (key, text), = problems.items()
        raise GazelmInputError(text, field=key)
    if problems:
        raise GazelmInputError("wrongly typed config values: " + "; ".join(f"{k!r}: {t}" for k, t in problems.items()))
