"""Running untrusted programs (model output) for execution metrics such as pass@k.

:class:`Sandbox` runs a *solution* and its *checks* in a bubblewrap sandbox
(:mod:`gazelm.sandbox.bwrap`) through a small harness (:mod:`gazelm.sandbox.harness`).
A run passes only when the harness writes a per-run secret nonce, which it does after
the checks returned; an exit status never counts.

What this guarantees, and what it does not, is written down in ``docs/metrics.md``
("Running untrusted code").
"""
from gazelm.sandbox.bwrap import SandboxUnavailableError
from gazelm.sandbox.runner import ExecutionResult, Sandbox, SandboxError

__all__ = ["ExecutionResult", "Sandbox", "SandboxError", "SandboxUnavailableError"]
