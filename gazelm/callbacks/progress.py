"""A rich progress bar on a terminal; plain, quiet output on CI or when piped."""
from __future__ import annotations

import os
import sys

from lightning.pytorch.callbacks import RichProgressBar, TQDMProgressBar


def progress_bar(refresh_rate: int = 1):
    if sys.stdout.isatty() and not os.environ.get("CI"):
        return RichProgressBar(refresh_rate=refresh_rate)
    return TQDMProgressBar(refresh_rate=0)
