"""EyeMulator's 19 semantic labels and the srcML → label mapping used for iTrace data.

The labels are the ones of the EyeMulator release (``priors/*/beta_distribution.json``,
fitted on the EyeTrans study). :mod:`gazelm.code.tokens` assigns them to tree-sitter
tokens; :func:`label_from_srcml` assigns them to iTrace fixations, whose CSVs carry the
srcML element path of the fixated token instead of the source code.
"""
from __future__ import annotations

SEMANTIC_LABELS: tuple[str, ...] = (
    "variable declaration",
    "conditional statement",
    "function declaration",
    "loop",
    "parameter",
    "conditional block",
    "argument",
    "function call",
    "return",
    "variable",
    "externally defined variable or function",
    "exception handling",
    "operation",
    "external class",
    "comment",
    "assignment",
    "operator",
    "literal",
    "index operation",
)
"""The 19 semantic labels, in the order of the EyeMulator release's beta_distribution.json."""

LABEL_SET = frozenset(SEMANTIC_LABELS)

# srcML element → label, applied to the path ``unit->class->...->name`` from the innermost
# element outwards; the first element with an entry decides (None entries stop the walk and
# give no label). Field-like rules: a ``name`` directly under ``function`` is the function's
# name (function declaration), directly under ``call`` the callee (function call), under
# ``decl`` / ``type`` the declared name / its type, resolved by the element above it.
SRCML_LABELS: dict[str, str | None] = {
    "comment": "comment",
    "literal": "literal",
    "parameter_list": "parameter",
    "parameter": "parameter",
    "argument_list": "argument",
    "argument": "argument",
    "call": "function call",
    "index": "index operation",
    "decl_stmt": "variable declaration",
    "if": "conditional statement",
    "if_stmt": "conditional statement",
    "else": "conditional block",
    "switch": "conditional statement",
    "case": "conditional block",
    "ternary": "conditional statement",
    "condition": "conditional statement",
    "then": "conditional block",
    "for": "loop",
    "while": "loop",
    "do": "loop",
    "control": "loop",
    "return": "return",
    "try": "exception handling",
    "catch": "exception handling",
    "finally": "exception handling",
    "throw": "exception handling",
    "throws": "exception handling",
    "function": "function declaration",
    "constructor": "function declaration",
    "function_decl": "function declaration",
    "constructor_decl": "function declaration",
    "specifier": "function declaration",
    "operator": "operator",
    "super": "external class",
    "extends": "external class",
    "implements": "external class",
    "class": None,
    "interface": None,
    "enum": None,
    "unit": None,
}

# A ``block`` (and the ``block_content`` in it) is labelled by what owns it: the body of an
# ``if`` / ``else`` / ``case`` is a conditional block, the body of a function or class is
# unlabelled (its braces are not the declaration), any other block (loop, try) passes the
# walk on to its owner.
_BLOCK_OWNER_LABELS: dict[str, str | None] = {
    "if": "conditional block", "else": "conditional block", "then": "conditional block",
    "case": "conditional block", "function": None, "constructor": None, "class": None,
    "interface": None, "enum": None, "unit": None,
}


# Expression-level labels: an enclosing statement-level element (declaration, condition,
# loop, return, ...) takes precedence over them, as in gazelm.code.tokens.STATEMENT_LABELS.
EXPRESSION_LABELS = frozenset({"function call", "argument", "literal", "operation", "index operation",
                               "assignment", "operator"})


def label_from_srcml(path: str) -> str | None:
    """Semantic label of a token from its srcML element path (``a->b->c``), or ``None``.

    Walks the elements from the innermost outwards: the first statement-level label
    (``SRCML_LABELS``; ``block``s by their owner, ``_BLOCK_OWNER_LABELS``) wins; an
    expression-level one (call, argument, literal, ...) is kept only if no statement-level
    element encloses it before the walk stops at a function/class body. A ``name``
    reached without any label is a variable (an external class when it names a ``type``).
    """
    if not path:
        return None
    parts = path.split("->")
    expression: str | None = None
    for i in range(len(parts) - 1, -1, -1):
        element = parts[i]
        label: str | None
        if element in ("block", "block_content"):
            owner = next((p for p in reversed(parts[:i]) if p not in ("block", "block_content")), "unit")
            if owner not in _BLOCK_OWNER_LABELS:
                continue
            label = _BLOCK_OWNER_LABELS[owner]
        elif element in SRCML_LABELS:
            label = SRCML_LABELS[element]
        else:
            continue
        if label is None:
            break
        if label not in EXPRESSION_LABELS:
            return label
        if expression is None:
            expression = label
    if expression is not None:
        return expression
    last = parts[-1]
    if last == "name":
        return "external class" if len(parts) > 1 and parts[-2] == "type" else "variable"
    return None
