"""The format registry: built-in formats found as modules, what each declares, checks on new ones."""
from __future__ import annotations

import pytest

from gazelm.errors import GazelmInputError
from gazelm.gaze.formats import FORMATS, FixationFormat, format_options, open_format, register_format


def test_builtin_formats_are_the_modules_of_the_package():
    assert FORMATS.names() == ["codeactr", "eyelink", "eyemulator", "itrace", "scanpath_json"]
    declared = {name: (FORMATS.get(name).measured, FORMATS.get(name).alignment) for name in FORMATS.names()}
    assert declared == {"codeactr": (True, None), "eyelink": (True, "char"), "eyemulator": (False, None),
                        "itrace": (True, "aoi"), "scanpath_json": (True, None)}
    assert format_options(FORMATS.get("eyelink")) == ["interest_areas", "code_snippets"]
    assert all(format_options(FORMATS.get(n)) == [] for n in ("itrace", "codeactr", "scanpath_json", "eyemulator"))


def test_formats_without_code_tokens_say_so():
    with pytest.raises(GazelmInputError, match="format 'codeactr' gives no code tokens"):
        open_format("codeactr").trials(None)
    with pytest.raises(GazelmInputError, match="needs the interest areas"):
        open_format("eyelink").tokens(None)


def test_open_format_names_unknown_formats_and_options():
    with pytest.raises(GazelmInputError, match="unknown fixation format 'tobii'; known: codeactr, eyelink"):
        open_format("tobii")
    with pytest.raises(GazelmInputError, match=r"takes no option 'ias' \(options: interest_areas, code_snippets"):
        open_format("eyelink", ias="x")


def test_register_format_checks_what_it_registers():
    with pytest.raises(TypeError, match="register a FixationFormat subclass"):
        register_format("gz_test_not_a_format")(object)
    with pytest.raises(ValueError, match="alignment 'pixels' is not one of char, linecol, occurrence, aoi"):
        register_format("gz_test_bad_alignment")(type("Bad", (FixationFormat,), {"alignment": "pixels"}))
    assert "gz_test_bad_alignment" not in FORMATS
