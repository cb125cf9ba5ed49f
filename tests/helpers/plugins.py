"""A user's own code outside the repository, for the "add a new X" tests.

``user_package(root, {"my_ops.py": ..., "conf/operator/mine.yaml": ...})`` writes the files
(dedented) and returns a :class:`UserPackage`: its modules are importable with ``root`` on the
path, its ``conf/`` is a config directory for ``hydra.searchpath``. In-process tests use
``with package.imported():`` (``root`` on ``sys.path``; afterwards its modules, and whatever
they registered in gazelm's registries, are gone, so the next test imports them afresh);
subprocesses get ``package.env()`` (``PYTHONPATH`` = ``root`` + this checkout).
"""
from __future__ import annotations

import sys
import textwrap
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

from gazelm.registry import Registry
from tests.helpers.cli import checkout_env


def registries() -> list[Registry]:
    """Every registry a user's module can add to."""
    from gazelm.attention.operators import OPERATORS
    from gazelm.data.sources import SOURCES
    from gazelm.gaze.formats import FORMATS
    from gazelm.metrics import METRICS
    from gazelm.metrics.alignment import ALIGNMENT_METRICS
    from gazelm.objectives.rewards import REWARDS

    return [OPERATORS, SOURCES, FORMATS, METRICS, ALIGNMENT_METRICS, REWARDS]


@dataclass(frozen=True)
class UserPackage:
    root: Path

    @property
    def conf(self) -> Path:
        """The config directory (``conf/<group>/<option>.yaml``)."""
        return self.root / "conf"

    @property
    def searchpath(self) -> str:
        """The override that puts :attr:`conf` on Hydra's search path."""
        return f"hydra.searchpath=[file://{self.conf}]"

    def module_names(self) -> set[str]:
        return {p.stem for p in self.root.glob("*.py")} | {p.name for p in self.root.iterdir()
                                                          if p.is_dir() and p.name != "conf"}

    def env(self, **variables: str) -> dict[str, str]:
        """A subprocess environment that imports these modules and this checkout."""
        return checkout_env(self.root, **variables)

    @contextmanager
    def imported(self) -> Iterator["UserPackage"]:
        names = self.module_names()
        sys.path.insert(0, str(self.root))
        try:
            yield self
        finally:
            sys.path.remove(str(self.root))
            for module in [m for m in sys.modules if m.split(".")[0] in names]:
                del sys.modules[module]
            for registry in registries():
                for name, member in list(registry._items.items()):
                    if str(getattr(member, "__module__", "")).split(".")[0] in names:
                        del registry._items[name], registry._meta[name]


def user_package(root: Path, files: Mapping[str, str]) -> UserPackage:
    """Write ``files`` (path relative to ``root`` → text, dedented) and return the package."""
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return UserPackage(root)
