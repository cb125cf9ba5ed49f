"""Opening a training run's folder without running its code.

A run folder's ``.hydra/config.yaml`` names the ``_target_`` callables that rebuild the run.
Anyone can write that file, so gazelm rebuilds a run only from targets on an allow-list:

* every ``_target_`` of gazelm's own config tree (``conf/``), exactly;
* classes (not functions or methods) under :data:`CLASS_PREFIXES`: ``torch.optim``,
  Lightning's callbacks, loggers, strategies, plugins and profilers, and ``transformers``;

and refuses a config that sets ``trust_remote_code`` anywhere or names ``plugins`` (modules
imported at start-up), or whose ``_target_`` is an interpolation. A target outside the list
is never imported. ``trust_run_config=true`` lifts all of this for a folder you trust.

Overrides (``data=mbpp``, ``task.max_source_length=512``) apply to the loaded config: a
config-group override takes the option's YAML from gazelm's own tree, any other is a value.
"""
from __future__ import annotations

import inspect
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Sequence

from omegaconf import DictConfig, OmegaConf, open_dict

from gazelm.config import conf_dir
from gazelm.errors import GazelmInputError

CLASS_PREFIXES = ("torch.optim.", "lightning.pytorch.callbacks.", "lightning.pytorch.loggers.",
                  "lightning.pytorch.strategies.", "lightning.pytorch.plugins.", "lightning.pytorch.profilers.",
                  "transformers.")
TRUST_FLAG = "trust_run_config"


def _walk(node: Any, path: str = "") -> Iterator[tuple[str, str, Any]]:
    """``(path, key, value)`` of every mapping entry in a plain container tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            sub = f"{path}.{key}" if path else str(key)
            yield sub, str(key), value
            yield from _walk(value, sub)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}[{i}]")


@lru_cache(maxsize=None)
def gazelm_targets(root: str | None = None) -> frozenset[str]:
    """Every ``_target_`` string in gazelm's config tree."""
    found = set()
    for file in Path(root or conf_dir()).rglob("*.yaml"):
        data = OmegaConf.to_container(OmegaConf.load(file), resolve=False)
        found.update(v for _, k, v in _walk(data) if k == "_target_" and isinstance(v, str))
    return frozenset(found)


def _allowed(target: str) -> bool:
    if target in gazelm_targets():
        return True
    if not target.startswith(CLASS_PREFIXES):
        return False  # never imported
    from hydra.utils import get_object

    try:
        return inspect.isclass(get_object(target))
    except Exception:  # not importable: refuse here rather than fail later
        return False


def untrusted_parts(cfg: DictConfig) -> list[str]:
    """What in ``cfg`` could run code that is not gazelm's, one line each (empty: safe)."""
    data = OmegaConf.to_container(cfg, resolve=False)
    problems = []
    if data.get("plugins"):
        problems.append(f"plugins: {data['plugins']} (modules imported at start-up)")
    for path, key, value in _walk(data):
        if key == "_target_":
            if not isinstance(value, str) or "${" in value:
                problems.append(f"{path}: {value!r} (an interpolated target)")
            elif not _allowed(value):
                problems.append(f"{path}: {value}")
        elif key == "trust_remote_code" and value not in (False, None, "false", "False"):
            problems.append(f"{path}: {value!r} (runs a model repository's code)")
    return problems


def require_trusted(cfg: DictConfig, source: Path | str) -> None:
    """Refuse a run config that would run code outside the allow-list (see module doc)."""
    problems = untrusted_parts(cfg)
    if problems:
        raise GazelmInputError(
            f"refusing to rebuild this run: its config names code gazelm does not run from a run folder "
            f"({'; '.join(problems)}). Allowed: the targets of gazelm's own configs and classes under "
            f"{', '.join(p.rstrip('.') for p in CLASS_PREFIXES)}. If you trust this folder, pass "
            f"{TRUST_FLAG}=true", path=source, field="_target_")


def load_run_config(path: Path | str, trust: bool = False) -> DictConfig:
    """A run's ``.hydra/config.yaml``, checked against the allow-list unless ``trust``."""
    path = Path(path)
    if not path.is_file():
        raise GazelmInputError("the training run's config was not found; pass run_config=<run dir>/.hydra/"
                               "config.yaml", path=path, field="run_config")
    try:
        cfg = OmegaConf.load(path)
    except Exception as err:  # YAML syntax, not a mapping, ...
        raise GazelmInputError(f"not a readable config: {str(err).splitlines()[0]}", path=path,
                               field="run_config") from None
    if not isinstance(cfg, DictConfig):
        raise GazelmInputError("expected a mapping", path=path, field="run_config")
    if not trust:
        require_trusted(cfg, path)
    return cfg


_IMPLIED = re.compile(r"^override /(?P<group>\w+)(@_global_\.(?P=group))?$")


def _group_option(group: str, option: str) -> tuple[DictConfig, dict[str, str]] | None:
    """The YAML of ``group=option`` from gazelm's tree and the other groups it selects by default
    (a task's default data: ``override /data@_global_.data: x``), or None if ``group`` is not a group."""
    folder = conf_dir() / group
    if not folder.is_dir():
        return None
    file = folder / f"{option}.yaml"
    if not file.is_file():
        options = ", ".join(sorted(p.stem for p in folder.glob("*.yaml")))
        raise GazelmInputError(f"no option {option!r} in config group {group!r}; options: {options}",
                               field="overrides")
    several = GazelmInputError(f"{group}={option} changes several parts of a config; it cannot be applied to a "
                               "finished run's config (override its keys one by one)", field="overrides")
    if file.read_text(encoding="utf-8").lstrip().startswith("# @package _global_"):
        raise several
    node = OmegaConf.load(file)
    implied: dict[str, str] = {}
    for entry in node.pop("defaults", None) or []:
        pairs = entry.items() if isinstance(entry, DictConfig) else [(entry, None)]
        for text, value in pairs:
            match = _IMPLIED.match(str(text))
            if not match or not isinstance(value, str):
                raise several
            implied[match["group"]] = value
    return node, implied


def _has_key(cfg: DictConfig, key: str) -> bool:
    """Whether dotted ``key`` exists in ``cfg`` (without resolving any value)."""
    node: Any = cfg
    for part in key.split("."):
        if not isinstance(node, DictConfig) or node._get_node(part) is None:
            return False
        node = node._get_node(part)
    return True


def apply_overrides(cfg: DictConfig, overrides: Sequence[str]) -> DictConfig:
    """Apply Hydra-style overrides to a loaded config: ``group=option`` swaps in gazelm's YAML
    for that group, ``key=value`` sets a key that exists, ``+key=value`` adds one, ``~key``
    deletes one. Anything else is an error naming the override."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    cfg = cfg.copy()
    try:
        parsed = OverridesParser.create().parse_overrides([str(o) for o in overrides])
    except OverrideParseException as err:
        raise GazelmInputError(f"cannot parse: {str(err).splitlines()[0]}", field="overrides") from None
    explicit = {o.key_or_group for o in parsed}
    for override in parsed:
        key, text = override.key_or_group, override.input_line
        if override.is_sweep_override() or override.package:
            raise GazelmInputError(f"{text!r}: sweeps and @package overrides do not apply here", field="overrides")
        with open_dict(cfg):
            if override.is_delete():
                if not _has_key(cfg, key):
                    raise GazelmInputError(f"{text!r}: no key {key!r} to delete", field="overrides")
                parent, _, leaf = key.rpartition(".")
                del (OmegaConf.select(cfg, parent) if parent else cfg)[leaf]
                continue
            value = override.value()
            group = _group_option(key, value) if isinstance(value, str) and "." not in key else None
            if group is not None:
                cfg[key], implied = group
                for other, option in implied.items():  # e.g. task=translation's default data, unless data= is given
                    if other not in explicit:
                        cfg[other] = _group_option(other, option)[0]
                continue
            if not _has_key(cfg, key) and not (override.is_add() or override.is_force_add()):
                raise GazelmInputError(f"{text!r}: the run's config has no key {key!r} (use +{key}=... to add it)",
                                       field="overrides")
            OmegaConf.update(cfg, key, value, merge=False, force_add=True)
    return cfg

