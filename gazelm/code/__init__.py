"""Code tokens with EyeMulator semantic labels (tree-sitter for Java, Python, C#)."""
from __future__ import annotations

from gazelm.code.labels import SEMANTIC_LABELS, label_from_srcml
from gazelm.code.tokens import LANGUAGES, CodeToken, label_tokens, normalise_language

__all__ = ["SEMANTIC_LABELS", "LANGUAGES", "CodeToken", "label_tokens", "label_from_srcml",
           "normalise_language"]
