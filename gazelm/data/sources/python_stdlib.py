"""The embedded default: functions with docstrings from the running Python's stdlib.

Tasks:
- summarization: the function without its docstring → the docstring's first sentence;
- completion: the first half of the function's lines (at least its signature) → the rest;
- generation: signature + docstring → the body.
Test modules (``test``/``tests`` packages, ``test_*.py``), ``idlelib``, ``lib2to3``,
``site-packages`` and ``__main__`` are excluded. The split is a sha1 hash of
``module:qualname``, so it is stable across runs and machines with the same Python.
"""
from __future__ import annotations

import ast
import hashlib
import json
import re
import sys
import sysconfig
from functools import lru_cache
from pathlib import Path

from gazelm.atomic import write_text
from gazelm.data.example import Example
from gazelm.data.sources import register_source
from gazelm.data.sources.common import check_split, check_task, fixed_tasks, hash_split, limit, nonempty

LANGUAGES = {"summarization": ("python", "text"), "completion": ("python", "python"),
             "generation": ("python", "python")}
_EXCLUDED_PARTS = {"test", "tests", "idlelib", "lib2to3", "site-packages", "dist-packages", "__pycache__",
                   "turtledemo", "ensurepip", "venv"}
_SENTENCE_END = re.compile(r"(?<!e\.g\.)(?<!i\.e\.)(?<!etc\.)(?<=[.!?])\s")


def first_sentence(docstring: str) -> str:
    """First sentence of a docstring's first paragraph, whitespace collapsed."""
    paragraph = docstring.strip().split("\n\n")[0]
    text = " ".join(paragraph.split())
    return _SENTENCE_END.split(text, maxsplit=1)[0].strip()


def _stdlib_files(root: Path) -> list[Path]:
    files = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if _EXCLUDED_PARTS & set(rel.parts) or rel.name.startswith("test_") or rel.name == "__main__.py":
            continue
        files.append(path)
    return files


def _docstring_span(node: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[int, int] | None:
    first = node.body[0] if node.body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        return first.lineno, first.end_lineno  # 1-based, inclusive
    return None


def _functions(path: Path, root: Path, min_lines: int, max_lines: int) -> list[dict]:
    try:
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return []
    lines = text.splitlines()
    module = ".".join(path.relative_to(root).with_suffix("").parts)
    out = []
    stack: list[tuple[ast.AST, str]] = [(tree, "")]
    while stack:
        parent, prefix = stack.pop()
        for node in ast.iter_child_nodes(parent):
            if isinstance(node, ast.ClassDef):
                stack.append((node, f"{prefix}{node.name}."))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                span = _docstring_span(node)
                start = (node.decorator_list[0].lineno if node.decorator_list else node.lineno) - 1
                end = node.end_lineno
                n_lines = end - start
                if not doc or span is None or not (min_lines <= n_lines <= max_lines) or len(node.body) < 2:
                    continue
                summary = first_sentence(doc)
                if len(summary.split()) < 3:
                    continue
                func_lines = lines[start:end]
                indent = len(func_lines[0]) - len(func_lines[0].lstrip())
                func_lines = [line[indent:] for line in func_lines]
                d0, d1 = span[0] - 1 - start, span[1] - start
                out.append({
                    "key": f"{module}:{prefix}{node.name}",
                    "code": "\n".join(func_lines),
                    "code_nodoc": "\n".join(func_lines[:d0] + func_lines[d1:]),
                    "header": "\n".join(func_lines[:d1]),
                    "body": "\n".join(func_lines[d1:]),
                    "summary": summary,
                })
    return out


@lru_cache(maxsize=4)
def _collect(root: str, min_lines: int, max_lines: int, cache_dir: str | None) -> tuple[dict, ...]:
    root_path = Path(root)
    cache = None
    if cache_dir:
        key = hashlib.sha1(f"{root}|{sys.version}|{min_lines}|{max_lines}|v2".encode()).hexdigest()[:16]
        cache = Path(cache_dir) / f"python_stdlib-{key}.jsonl"
        if cache.exists():
            with open(cache, encoding="utf-8") as fh:
                return tuple(json.loads(line) for line in fh)
    rows = [f for path in _stdlib_files(root_path) for f in _functions(path, root_path, min_lines, max_lines)]
    rows.sort(key=lambda r: r["key"])
    if cache is not None:
        write_text(cache, "".join(json.dumps(row) + "\n" for row in rows))
    return tuple(rows)


def _completion_split(code: str) -> tuple[str, str]:
    lines = code.split("\n")
    cut = max(1, len(lines) // 2)
    return "\n".join(lines[:cut]) + "\n", "\n".join(lines[cut:])


@register_source("python_stdlib", tasks=fixed_tasks(LANGUAGES))
def load(task: str, split: str, max_examples: int | None = None, min_lines: int = 4, max_lines: int = 40,
         stdlib_dir: str | None = None, cache_dir: str | None = None, val_percent: float = 5.0,
         test_percent: float = 5.0) -> list[Example]:
    """Examples of ``task`` from the stdlib of the running Python (``stdlib_dir`` overrides)."""
    check_task("python_stdlib", task, LANGUAGES)
    check_split(split)
    root = stdlib_dir or sysconfig.get_paths()["stdlib"]
    rows = [r for r in _collect(str(root), min_lines, max_lines, cache_dir)
            if hash_split(r["key"], val_percent, test_percent) == split]
    examples = []
    for r in rows:
        if task == "summarization":
            source, target = r["code_nodoc"], r["summary"]
        elif task == "completion":
            source, target = _completion_split(r["code_nodoc"])
        else:
            source, target = r["header"], r["body"]
        if not source.strip() or not target.strip():
            continue
        examples.append(Example(id=r["key"], task=task, source=source, target=target,
                                source_language=LANGUAGES[task][0], target_language=LANGUAGES[task][1]))
    return nonempty(limit(examples, max_examples), f"python_stdlib {task}/{split} under {root}")
