"""Name → object registries (operators, metrics, sources, fixation formats).

Configs list names; code looks them up here. An unknown name is a clear error that lists
what is registered, never a silent fallback.

A registry finds its members itself: given ``package``, the first lookup imports every
module of that package (``pkgutil.iter_modules``; modules whose name starts with ``_``
are helpers and skipped), and each module registers what it defines with a decorator.
Adding a member is therefore one module, with no list to edit. A user's own modules are
imported by name with :func:`import_plugins` (the ``plugins:`` key of every app config).
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterable, Iterator, TypeVar

T = TypeVar("T")


class UnknownNameError(KeyError):
    """A config asked for a name that no module registered."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0])


def import_package_modules(package: str) -> list[str]:
    """Import every public module of ``package`` (not sub-packages' contents); their names."""
    pkg = importlib.import_module(package)
    names = []
    for info in pkgutil.iter_modules(pkg.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{package}.{info.name}")
            names.append(info.name)
    return names


def import_plugins(modules: Iterable[str] | None) -> None:
    """Import a user's modules by dotted name so their ``@register_*`` decorators run.

    ``plugins: [mypkg.metrics, mypkg.sources]`` in a config does this before anything is
    looked up. A module that cannot be imported is an error naming it.
    """
    from gazelm.errors import GazelmInputError

    for name in modules or ():
        try:
            importlib.import_module(str(name))
        except ImportError as err:
            raise GazelmInputError(f"cannot import plugin module {name!r}: {err}", field="plugins") from None


@dataclass
class Registry(Generic[T]):
    """A named table of components with optional per-entry metadata.

    ``package``: the dotted package whose modules define the members; imported on the
    first lookup (registration itself never triggers discovery, so a module may register
    while its package is being imported).
    """

    kind: str
    package: str | None = None
    _items: dict[str, T] = field(default_factory=dict)
    _meta: dict[str, dict[str, Any]] = field(default_factory=dict)
    _discovered: bool = False

    def register(self, name: str, **meta: Any) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._items and self._items[name] is not obj:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = obj
            self._meta[name] = dict(meta)
            return obj

        return deco

    def discover(self) -> None:
        """Import the members' package once (no-op without ``package``)."""
        if self._discovered or self.package is None:
            return
        self._discovered = True
        import_package_modules(self.package)

    def get(self, name: str) -> T:
        self.discover()
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "(none)"
            raise UnknownNameError(f"unknown {self.kind} {name!r}; known: {known}") from None

    def meta(self, name: str) -> dict[str, Any]:
        self.get(name)
        return self._meta[name]

    def names(self) -> list[str]:
        self.discover()
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        self.discover()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
