"""Registries find their members: package discovery and user plugins."""
from __future__ import annotations

import sys
import textwrap

import pytest

from gazelm.errors import GazelmInputError
from gazelm.registry import Registry, UnknownNameError, import_plugins
from tests.helpers.plugins import user_package


@pytest.fixture
def temp_package(tmp_path):
    """A throw-away importable package ``gz_tmp_pkg`` with two members and one helper."""
    package = user_package(tmp_path, {
        "gz_tmp_pkg/__init__.py": """
            from gazelm.registry import Registry
            THINGS = Registry("thing", package=__name__)
        """,
        "gz_tmp_pkg/alpha.py": "from gz_tmp_pkg import THINGS\nTHINGS.register('alpha', size=1)(object())\n",
        "gz_tmp_pkg/beta.py": "from gz_tmp_pkg import THINGS\nTHINGS.register('beta', size=2)(object())\n",
        "gz_tmp_pkg/_helper.py": "raise RuntimeError('helpers are not imported by discovery')\n",
    })
    with package.imported():
        yield "gz_tmp_pkg"


def test_members_are_discovered_on_first_lookup(temp_package):
    import importlib

    things = importlib.import_module(temp_package).THINGS
    assert things._items == {}  # nothing imported yet
    assert things.names() == ["alpha", "beta"]
    assert things.meta("beta") == {"size": 2}
    assert "alpha" in things


def test_unknown_name_lists_known_members(temp_package):
    import importlib

    things = importlib.import_module(temp_package).THINGS
    with pytest.raises(UnknownNameError, match="unknown thing 'gamma'; known: alpha, beta"):
        things.get("gamma")


def test_registry_without_package_does_not_discover():
    reg: Registry[int] = Registry("number")
    reg.register("one")(1)
    assert reg.names() == ["one"]


def test_builtin_registries_find_their_members():
    from gazelm.attention.operators import OPERATORS
    from gazelm.data.sources import SOURCES
    from gazelm.metrics import METRICS

    assert {"rollout", "saliency", "self_attention"} <= set(OPERATORS.names())
    assert {"python_stdlib", "codexglue_java_cs", "humaneval", "mbpp"} <= set(SOURCES.names())
    assert {"codebleu", "pass_at_k", "rouge_l"} <= set(METRICS.names())


def test_plugin_that_cannot_be_imported_is_named():
    with pytest.raises(GazelmInputError, match="'plugins'.*no_such_gazelm_plugin"):
        import_plugins(["no_such_gazelm_plugin"])


def test_registries_discover_without_optional_packages():
    """captum (three attribution operators) and krippendorff (one alignment metric) are imported
    where they are used: a machine without them (the GPU image) still discovers every other
    operator and metric; before, one failed import stopped discovery half-way (no ``rollout``)."""
    import subprocess

    code = textwrap.dedent("""
        import sys
        for name in ("captum", "captum.attr", "krippendorff"):
            sys.modules[name] = None  # as if not installed
        from gazelm.attention.operators import OPERATORS
        from gazelm.metrics import METRICS
        from gazelm.metrics.fixate import kl_fixate
        assert {"rollout", "saliency", "integrated_gradients"} <= set(OPERATORS.names()), OPERATORS.names()
        assert {"bleu_sacre", "rouge_l"} <= set(METRICS.names()), METRICS.names()
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
