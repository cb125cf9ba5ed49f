"""Code tokens with EyeMulator semantic labels, from a tree-sitter parse.

Every leaf of the syntax tree is a token (string literals and comments are one token
each). Its label comes from a per-language table of rules, applied top-down so that the
*innermost* construct with a rule decides (for one node, a field rule beats a node rule),
except that statement-level labels (declarations, conditions, loops, returns, exception
handling; :data:`STATEMENT_LABELS`) take precedence over expression-level ones (function
call, argument, literal, operation, index operation, assignment) nested in them, the
convention of the EyeTrans labels the EyeMulator priors were fitted with:

* ``NODE_RULES[language][node_type]``: every token inside a node of that type gets the
  label (``None`` = no label from here down, e.g. a class body);
* ``FIELD_RULES[language][(parent_type, field)]``: the child in that field gets the label
  (e.g. the ``consequence`` of an ``if`` is a *conditional block*, the ``condition`` a
  *conditional statement*, the ``body`` of a function is not the declaration).

Tokens that no rule reaches fall back on what they are: an identifier is a *variable*
when the snippet declares that name (as a variable, parameter or function), else an
*externally defined variable or function*; a type name is an *external class*; an
operator is an *operator*; keywords and punctuation get ``None``.

Grammars: tree-sitter 0.22.3 with tree-sitter-java / -python / -c-sharp 0.21 (the
versions codebleu 0.7.0 needs).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator

from gazelm.code.labels import SEMANTIC_LABELS

LANGUAGES: tuple[str, ...] = ("java", "python", "c_sharp")
_ALIASES = {"c#": "c_sharp", "csharp": "c_sharp", "cs": "c_sharp", "py": "python"}

_STOP = None  # a rule value that clears the inherited label

_COMMON_DECL = "variable declaration"

NODE_RULES: dict[str, dict[str, str | None]] = {
    "java": {
        "line_comment": "comment", "block_comment": "comment",
        "method_declaration": "function declaration", "constructor_declaration": "function declaration",
        "formal_parameters": "parameter", "catch_formal_parameter": "exception handling",
        "local_variable_declaration": _COMMON_DECL, "field_declaration": _COMMON_DECL,
        "if_statement": "conditional statement", "ternary_expression": "conditional statement",
        "switch_expression": "conditional statement", "switch_block": "conditional block",
        "for_statement": "loop", "enhanced_for_statement": "loop", "while_statement": "loop",
        "do_statement": "loop",
        "return_statement": "return", "yield_statement": "return",
        "try_statement": "exception handling", "try_with_resources_statement": "exception handling",
        "catch_clause": "exception handling", "finally_clause": "exception handling",
        "throw_statement": "exception handling", "throws": "exception handling",
        "method_invocation": "function call", "object_creation_expression": "function call",
        "explicit_constructor_invocation": "function call",
        "argument_list": "argument",
        "assignment_expression": "assignment",
        "update_expression": "operation", "unary_expression": "operation",
        "array_access": "index operation",
        "superclass": "external class", "super_interfaces": "external class",
        "class_declaration": _STOP, "interface_declaration": _STOP, "enum_declaration": _STOP,
        "decimal_integer_literal": "literal", "hex_integer_literal": "literal",
        "octal_integer_literal": "literal", "binary_integer_literal": "literal",
        "decimal_floating_point_literal": "literal", "hex_floating_point_literal": "literal",
        "string_literal": "literal", "character_literal": "literal", "text_block": "literal",
        "true": "literal", "false": "literal", "null_literal": "literal",
    },
    "python": {
        "comment": "comment",
        "function_definition": "function declaration", "parameters": "parameter",
        "lambda_parameters": "parameter",
        "assignment": "assignment", "augmented_assignment": "operation",
        "if_statement": "conditional statement", "elif_clause": "conditional statement",
        "else_clause": "conditional block", "conditional_expression": "conditional statement",
        "match_statement": "conditional statement", "case_clause": "conditional block",
        "for_statement": "loop", "while_statement": "loop", "for_in_clause": "loop",
        "return_statement": "return", "yield": "return",
        "try_statement": "exception handling", "except_clause": "exception handling",
        "finally_clause": "exception handling", "raise_statement": "exception handling",
        "call": "function call", "argument_list": "argument",
        "subscript": "index operation",
        "unary_operator": "operation", "not_operator": "operation",
        "class_definition": _STOP, "decorator": "function declaration",
        "integer": "literal", "float": "literal", "string": "literal", "concatenated_string": "literal",
        "true": "literal", "false": "literal", "none": "literal",
    },
    "c_sharp": {
        "comment": "comment",
        "method_declaration": "function declaration", "constructor_declaration": "function declaration",
        "local_function_statement": "function declaration",
        "parameter_list": "parameter", "catch_declaration": "exception handling",
        "local_declaration_statement": _COMMON_DECL, "field_declaration": _COMMON_DECL,
        "if_statement": "conditional statement", "conditional_expression": "conditional statement",
        "switch_statement": "conditional statement", "switch_expression": "conditional statement",
        "switch_section": "conditional block",
        "for_statement": "loop", "for_each_statement": "loop", "while_statement": "loop",
        "do_statement": "loop",
        "return_statement": "return", "yield_statement": "return",
        "try_statement": "exception handling", "catch_clause": "exception handling",
        "finally_clause": "exception handling", "throw_statement": "exception handling",
        "throw_expression": "exception handling",
        "invocation_expression": "function call", "object_creation_expression": "function call",
        "argument_list": "argument",
        "assignment_expression": "assignment",
        "prefix_unary_expression": "operation", "postfix_unary_expression": "operation",
        "element_access_expression": "index operation",
        "base_list": "external class",
        "class_declaration": _STOP, "interface_declaration": _STOP, "struct_declaration": _STOP,
        "enum_declaration": _STOP, "namespace_declaration": _STOP,
        "integer_literal": "literal", "real_literal": "literal", "string_literal": "literal",
        "verbatim_string_literal": "literal", "raw_string_literal": "literal",
        "character_literal": "literal", "boolean_literal": "literal", "null_literal": "literal",
        "interpolated_string_expression": "literal",
    },
}

FIELD_RULES: dict[str, dict[tuple[str, str], str | None]] = {
    "java": {
        ("method_declaration", "body"): _STOP, ("constructor_declaration", "body"): _STOP,
        ("if_statement", "condition"): "conditional statement",
        ("if_statement", "consequence"): "conditional block",
        ("if_statement", "alternative"): "conditional block",
        ("ternary_expression", "consequence"): "conditional block",
        ("ternary_expression", "alternative"): "conditional block",
        ("try_statement", "body"): _STOP, ("try_with_resources_statement", "body"): _STOP,
        ("lambda_expression", "body"): _STOP,
        ("for_statement", "init"): "loop", ("enhanced_for_statement", "name"): "loop",
        ("enhanced_for_statement", "type"): "loop",
        ("class_declaration", "name"): "external class", ("interface_declaration", "name"): "external class",
    },
    "python": {
        ("function_definition", "body"): _STOP,
        ("assignment", "left"): _COMMON_DECL,
        ("if_statement", "consequence"): "conditional block",
        ("elif_clause", "consequence"): "conditional block",
        ("conditional_expression", "consequence"): "conditional block",
        ("try_statement", "body"): _STOP,
        ("with_statement", "body"): _STOP,
        ("class_definition", "name"): "external class",
        ("class_definition", "superclasses"): "external class",
    },
    "c_sharp": {
        ("method_declaration", "body"): _STOP, ("constructor_declaration", "body"): _STOP,
        ("local_function_statement", "body"): _STOP,
        ("if_statement", "condition"): "conditional statement",
        ("if_statement", "consequence"): "conditional block",
        ("if_statement", "alternative"): "conditional block",
        ("try_statement", "body"): _STOP,
        ("class_declaration", "name"): "external class", ("interface_declaration", "name"): "external class",
    },
}

# Labels of statements and declarations: inside one, expression-level rules (function call,
# argument, literal, operation, index operation, assignment) do not apply, as in the EyeTrans
# labels behind the EyeMulator priors (a call inside ``int x = f(y);`` is part of a variable
# declaration; a statement in an ``if`` body is part of a conditional block).
STATEMENT_LABELS = frozenset({"function declaration", "parameter", "variable declaration", "conditional statement",
                              "conditional block", "loop", "return", "exception handling", "comment",
                              "external class"})

# Inside a loop or a conditional block, the statements nested in it keep the enclosing label
# (EyeTrans labels a declaration in an ``if`` body *conditional block*, an ``if`` in a loop body
# *loop*); their own conditions, declarations of functions and comments still get theirs.
_BLOCK_CONTEXTS = frozenset({"loop", "conditional block"})
_NESTED_IN_BLOCKS = frozenset({"variable declaration", "conditional block", "return", "loop"})

# Nodes that are one token although tree-sitter splits them (quotes, fragments, escapes).
ATOMIC: dict[str, frozenset[str]] = {
    "java": frozenset({"string_literal", "character_literal", "text_block", "line_comment", "block_comment"}),
    "python": frozenset({"string", "comment"}),
    "c_sharp": frozenset({"string_literal", "verbatim_string_literal", "raw_string_literal",
                          "character_literal", "interpolated_string_expression", "comment"}),
}

_IDENTIFIERS = frozenset({"identifier"})
_TYPE_NAMES = frozenset({"type_identifier", "predefined_type"})
_OPERATORS = frozenset("+ - * / % = == != < > <= >= && || ! ~ & | ^ << >> >>> ++ -- += -= *= /= %= &= "
                       "|= ^= <<= >>= >>>= ** // -> => ?? and or not in is".split())
# labels whose identifiers count as names the snippet declares
_DECLARING = frozenset({"variable declaration", "parameter", "function declaration", "assignment"})


@dataclass(frozen=True)
class CodeToken:
    """One code token: ``code[start:end] == text`` (half-open character span).

    ``line`` and ``col`` are 1-based (as editors, iTrace and EyeMulator count them);
    ``label`` is one of :data:`SEMANTIC_LABELS` or ``None``; ``kind`` is the tree-sitter
    node type.
    """

    text: str
    start: int
    end: int
    line: int
    col: int
    label: str | None
    kind: str = ""


def normalise_language(language: str) -> str | None:
    """Tree-sitter name for ``language`` (``java``, ``python``, ``c_sharp``) or ``None``."""
    name = _ALIASES.get(language.lower(), language.lower())
    return name if name in LANGUAGES else None


@lru_cache(maxsize=None)
def _parser(language: str):
    import tree_sitter

    if language == "java":
        import tree_sitter_java as grammar
    elif language == "python":
        import tree_sitter_python as grammar
    else:
        import tree_sitter_c_sharp as grammar
    return tree_sitter.Parser(tree_sitter.Language(grammar.language()))


def _leaves(root, language: str) -> Iterator[tuple[object, str | None]]:
    """Yield ``(leaf node, rule label)`` in source order (one cursor walk).

    The stack carries ``(statement label, expression label)``: a statement-level label
    (:data:`STATEMENT_LABELS`) starts a new context and clears the expression label; an
    expression-level label only applies where no enclosing statement-level rule set one.
    """
    node_rules, field_rules, atomic = NODE_RULES[language], FIELD_RULES[language], ATOMIC[language]
    cursor = root.walk()
    stack: list[tuple[str | None, str | None]] = [(None, None)]
    while True:
        node = cursor.node
        stmt, expr = stack[-1]
        hit, rule = False, None
        field = cursor.field_name
        if field is not None and (node.parent.type, field) in field_rules:  # role beats node type
            hit, rule = True, field_rules[(node.parent.type, field)]
        elif node.type in node_rules:
            hit, rule = True, node_rules[node.type]
        if hit:
            if rule is None:
                stmt, expr = None, None
            elif rule in STATEMENT_LABELS:
                if not (stmt in _BLOCK_CONTEXTS and rule in _NESTED_IN_BLOCKS):
                    stmt = rule
                expr = None
            else:
                expr = rule
        if node.child_count == 0 or node.type in atomic:
            yield node, stmt or expr
        elif cursor.goto_first_child():
            stack.append((stmt, expr))
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return
            stack.pop()


def _python_docstring(node) -> bool:
    parent = node.parent
    return node.type == "string" and parent is not None and parent.type == "expression_statement" \
        and parent.named_child_count == 1


def label_tokens(code: str, language: str) -> list[CodeToken]:
    """Tokens of ``code`` with spans, 1-based line/col and semantic labels.

    Raises ``ValueError`` for a language other than java, python, c_sharp (aliases: cs,
    c#, csharp, py). Syntax errors do not raise: tree-sitter recovers, and tokens inside
    an error node keep the labels of their context.
    """
    lang = normalise_language(language)
    if lang is None:
        raise ValueError(f"no tree-sitter grammar for language {language!r}; known: {', '.join(LANGUAGES)}")
    data = code.encode("utf-8")
    ascii_only = len(data) == len(code)
    if not ascii_only:
        # byte offset → character offset
        char_at = [0] * (len(data) + 1)
        pos = 0
        for i, ch in enumerate(code):
            n = len(ch.encode("utf-8"))
            for k in range(n):
                char_at[pos + k] = i
            pos += n
        char_at[pos] = len(code)
    tree = _parser(lang).parse(data)
    raw: list[tuple[int, int, int, str, str | None]] = []
    for node, label in _leaves(tree.root_node, lang):
        sb, eb = node.start_byte, node.end_byte
        if eb <= sb:
            continue  # MISSING nodes inserted by error recovery
        kind = node.type
        if lang == "python" and _python_docstring(node):
            label = "comment"
        raw.append((sb, eb, node.start_point[0], kind, label))
    # names the snippet declares, for the variable / external fallback
    declared = {data[sb:eb] for sb, eb, _, kind, label in raw if kind == "identifier" and label in _DECLARING}
    line_starts = [0]
    for i, ch in enumerate(code):
        if ch == "\n":
            line_starts.append(i + 1)
    out: list[CodeToken] = []
    for sb, eb, row, kind, label in raw:
        start, end = (sb, eb) if ascii_only else (char_at[sb], char_at[eb])
        text = code[start:end]
        if label is None:
            if kind in _IDENTIFIERS:
                label = "variable" if data[sb:eb] in declared else "externally defined variable or function"
            elif kind in _TYPE_NAMES:
                label = "external class"
            elif kind in _OPERATORS:
                label = "operator"
        out.append(CodeToken(text, start, end, row + 1, start - line_starts[row] + 1, label, kind))
    return out


__all__ = ["CodeToken", "LANGUAGES", "SEMANTIC_LABELS", "label_tokens", "normalise_language",
           "NODE_RULES", "FIELD_RULES"]
