"""gazelm.code: tree-sitter tokens, spans, line/col and semantic labels."""
from __future__ import annotations

import pytest

from gazelm.code import SEMANTIC_LABELS, label_from_srcml, label_tokens


def _labels(code: str, language: str) -> dict[str, str | None]:
    return {t.text: t.label for t in label_tokens(code, language)}


def test_nineteen_labels():
    assert len(SEMANTIC_LABELS) == 19 == len(set(SEMANTIC_LABELS))
    assert "externally defined variable or function" in SEMANTIC_LABELS


def test_spans_line_col_java():
    code = 'class A {\n  int f(int a) {\n    return g(a);\n  }\n}\n'
    toks = label_tokens(code, "java")
    for t in toks:
        assert code[t.start:t.end] == t.text
    ret = next(t for t in toks if t.text == "return")
    assert (ret.line, ret.col, ret.start) == (3, 5, code.index("return"))


def test_java_labels():
    code = ('class A { int f(int a) { String s = "x" + h(a); if (a >= 0) { a++; } '
            'for (int i = 0; i < 3; i++) {} try { h(); } catch (Exception e) {} g(a, s[0], 1); return s; } }')
    toks = label_tokens(code, "java")
    at = lambda text, after="": next(t.label for t in toks if t.start == code.index(text, code.index(after)))  # noqa
    assert at("f") == "function declaration"
    assert at("a", "int a") == "parameter"
    assert at("s", "String ") == "variable declaration"
    # statement-level labels take precedence over the call and literal inside them
    assert at('"x"') == at("h") == "variable declaration"
    assert at("if") == at(">=") == "conditional statement"
    assert at("++") == "conditional block"
    assert at("for") == at("i", "for") == at("<") == "loop"
    assert at("try") == at("catch") == "exception handling"
    assert at("h", "try") == "function call"  # a try body is not the try statement
    assert at("g", "catch") == "function call"
    assert at("a", "g(") == "argument"
    assert at("[", "g(") == "index operation"
    assert at("1", "s[0]") == "literal"
    assert at("return") == at("s", "return") == "return"


def test_python_labels_and_variable_fallback():
    code = 'def f(x):\n    """Doc."""\n    y = x + z\n    # note\n    print(y[0])\n    return y\n'
    toks = label_tokens(code, "python")
    lab = lambda text, k=0: [t.label for t in toks if t.text == text][k]  # noqa: E731
    assert lab("def") == "function declaration"
    assert lab("x") == "parameter"
    assert lab('"""Doc."""') == "comment"
    assert lab("# note") == "comment"
    assert lab("y") == "variable declaration"
    assert lab("z") == "assignment"  # inside the assignment's right side
    assert lab("print") == "function call"
    assert lab("y", 1) == "index operation"
    assert lab("return") == lab("y", 2) == "return"
    bare = label_tokens("z\nw = 1\nw\n", "python")
    assert [t.label for t in bare if t.text in ("z", "w")] == [
        "externally defined variable or function", "variable declaration", "variable"]


def test_c_sharp_labels():
    code = "public int F(int a){ var b = G(a); H(b); if (b > 0) { return b; } return 0; }"
    lab = {(t.text, t.start): t.label for t in label_tokens(code, "c_sharp")}
    assert lab[("F", code.index("F("))] == "function declaration"
    assert lab[("a", code.index("a)"))] == "parameter"
    assert lab[("b", code.index("b ="))] == "variable declaration"
    assert lab[("G", code.index("G("))] == "variable declaration"
    assert lab[("H", code.index("H("))] == "function call" and lab[("b", code.index("b);"))] == "argument"
    assert lab[("if", code.index("if"))] == "conditional statement"


def test_unicode_offsets_are_characters():
    code = 's = "héllo"  # ü\nt = 1\n'
    toks = label_tokens(code, "python")
    for t in toks:
        assert code[t.start:t.end] == t.text
    assert [t.line for t in toks if t.text == "t"] == [2]


def test_aliases_and_unknown_language():
    assert label_tokens("x = 1", "py")[0].text == "x"
    assert label_tokens("int x = 1;", "cs")[0].text == "int"
    with pytest.raises(ValueError, match="no tree-sitter grammar"):
        label_tokens("hello", "text")


def test_labels_are_known():
    code = open(__file__, encoding="utf-8").read()
    assert {t.label for t in label_tokens(code, "python")} <= set(SEMANTIC_LABELS) | {None}


@pytest.mark.parametrize("path,label", [
    ("unit->class->block->function->name", "function declaration"),
    ("unit->class->block->function->parameter_list->parameter->decl->type->name", "parameter"),
    ("unit->class->block->function->block->block_content->if_stmt->if->block->block_content->expr_stmt->expr->name",
     "conditional block"),
    ("unit->class->block->function->block->block_content->expr_stmt->expr->call->argument_list->argument->expr->name",
     "argument"),
    ("unit->class->block->function->block->block_content->expr_stmt->expr->name", "variable"),
    ("unit->class->block->function->block", None),
    ("unit->class->block->function->block->block_content->for->control->init->decl->name", "loop"),
    ("", None),
])
def test_srcml_mapping(path, label):
    assert label_from_srcml(path) == label
