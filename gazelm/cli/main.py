"""The ``gazelm`` command: ``gazelm <subcommand> [args...]``.

Each subcommand is a module ``gazelm.cli.<name>`` with ``main()``; Hydra apps read
``sys.argv``, so the dispatcher rewrites it to look like ``python -m gazelm.cli.<name>``.
"""
from __future__ import annotations

import importlib
import sys

SUBCOMMANDS = {
    "train": "train a model (Hydra app: overrides, -m for multirun)",
    "eval": "evaluate a checkpoint, a model or a predictions file (Hydra app)",
    "align": "probe model attention and score it against human attention",
    "report": "tables, significance tests and plots from a multirun directory",
    "gaze": "read eye-tracking files, fit priors, simulate scanpaths, compute weights",
    "export": "write a trained checkpoint as a Hugging Face model folder (save_pretrained)",
}


def _usage() -> str:
    width = max(map(len, SUBCOMMANDS))
    lines = ["usage: gazelm <command> [args...]", "", "commands:"]
    lines += [f"  {name:<{width}}  {text}" for name, text in SUBCOMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(_usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        print(f"gazelm: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"gazelm.cli.{name}")
    sys.argv = [f"gazelm {name}", *rest]
    result = module.main()
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
