"""Multirun reports: one table (mean ± std over seeds), paired tests against a baseline, plots.

``load_multirun`` reads a Hydra sweep dir, ``build_report`` turns it into tables,
``write_report`` writes CSV, Markdown and PNG; ``gazelm report`` is the CLI.
"""
from __future__ import annotations

from gazelm.report.collect import Job, load_multirun, parse_overrides
from gazelm.report.table import Report, build_report, varying_keys
from gazelm.report.write import write_report

__all__ = ["Job", "Report", "build_report", "load_multirun", "parse_overrides", "varying_keys",
           "write_report"]
