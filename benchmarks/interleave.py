"""Interleaved benchmark rounds: each arm in its own long-lived process, timed in turns.

Why: on a shared machine the load changes from one minute to the next, so timing arm A for a
minute and then arm B for a minute measures the load as much as the arms. Here every arm is a
worker process that stays alive for the whole benchmark (model built, data loaded, warmed up
once); a coordinator then runs *rounds*: in each round every arm runs a few steps, in an order
shuffled per round, so neighbouring chunks of different arms see the same load. The ratio of
two arms is computed per round and the median over rounds is reported with its spread.

A benchmark script uses it in two places:

* the worker side: ``serve(arm)`` where ``arm(gate)`` runs the arm's loop and calls
  ``gate.step()`` at the start of every step and ``gate.count(units)`` for the work done
  (tokens, pairs, prompts). Loops owned by a library (Lightning, HF ``Trainer``) call them
  from a callback; the gate blocks between chunks while the other arms run.
* the coordinator side: ``run_rounds(arms, ...)`` starts one worker per arm with
  ``python <script> <args> --worker <arm>`` and returns the per-round rates;
  ``report(...)`` prints the table, the per-round ratio (median, IQR, min–max) and ``RATIO``.

Protocol (worker stdout is reserved for it; anything else a library prints goes to stderr):
the coordinator writes ``{"steps": k}`` or ``{"stop": true}``; the worker answers
``{"units": u, "seconds": s, "cpu_seconds": c, "peak_mb": m}`` (plus ``"gpu_peak_mb"`` on CUDA)
once the k steps are done (``c``: the process's CPU time over the chunk, which another job on the
machine barely changes when the arm runs one thread: the report prints the ratio on it next to the
wall-clock one).

``run_rounds(..., keep_going=True)`` leaves out an arm whose worker dies (at start-up or in a
round) instead of stopping the benchmark; the report names it and why.
"""
from __future__ import annotations

import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

WORKER_FLAG = "--worker"


# -- worker side ----------------------------------------------------------------------------
class Gate:
    """Pauses the arm's loop at chunk boundaries and meters the chunk in between."""

    def __init__(self, protocol_in, protocol_out, sync: Callable[[], None] | None = None,
                 gpu_peak_mb: Callable[[], float] | None = None):
        self._in, self._out, self._sync = protocol_in, protocol_out, sync or (lambda: None)
        self._gpu_peak_mb = gpu_peak_mb
        self._remaining = 0
        self._units = 0.0
        self._start = 0.0
        self._cpu_start = 0.0
        self.extra: dict = {}

    def count(self, units) -> None:
        """Add work done; a tensor (e.g. a token count on the GPU) is summed lazily, so counting
        does not synchronise the device at every step, only at the chunk's end."""
        self._units = self._units + units

    def step(self) -> None:
        """Call at the start of every step (before the step's own work)."""
        while self._remaining == 0:  # a chunk of 0 steps (e.g. --warmup 0) is answered at once
            self._sync()
            if self._start:
                memory = {"gpu_peak_mb": self._gpu_peak_mb()} if self._gpu_peak_mb else {}
                self._reply({"units": float(self._units), "seconds": time.perf_counter() - self._start,
                             "cpu_seconds": time.process_time() - self._cpu_start, "peak_mb": peak_rss_mb(),
                             **memory, **self.extra})
            command = json.loads(self._in.readline() or '{"stop": true}')
            if command.get("stop"):
                self._out.flush()
                os._exit(0)  # the arm's library loop has nothing left to do; skip its teardown
            self._remaining, self._units = int(command["steps"]), 0.0
            self._sync()
            self._start, self._cpu_start = time.perf_counter(), time.process_time()
        self._remaining -= 1

    def _reply(self, message: dict) -> None:
        self._out.write(json.dumps(message) + "\n")
        self._out.flush()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def serve(arm: Callable[[Gate], None], sync: Callable[[], None] | None = None,
          gpu_peak_mb: Callable[[], float] | None = None) -> None:
    """Worker main: hand ``arm`` a gate; the protocol goes over the process's original stdout.

    Build the arm (model, data) inside ``arm(gate)``: from here on anything printed, by Python
    or by native code, goes to stderr. ``sync`` waits for the device (CUDA) at chunk boundaries;
    ``gpu_peak_mb`` reports the device's peak allocated memory with each chunk."""
    protocol_out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # whatever libraries print goes to stderr, not into the protocol
    sys.stdout = sys.stderr
    gate = Gate(sys.stdin, protocol_out, sync, gpu_peak_mb)
    arm(gate)
    while True:  # the arm's loop ended early (e.g. out of data): keep answering with empty chunks
        gate.step()


def pull_loop(step: Callable[[], float]) -> Callable[[Gate], None]:
    """An arm whose unit of work is one call of ``step()`` (returns the units it did)."""
    def arm(gate: Gate) -> None:
        while True:
            gate.step()
            gate.count(step())
    return arm


def worker_arm(argv: Sequence[str] | None = None) -> str | None:
    """The arm this process serves (``--worker <arm>``), or ``None`` for the coordinator."""
    argv = list(sys.argv[1:] if argv is None else argv)
    return argv[argv.index(WORKER_FLAG) + 1] if WORKER_FLAG in argv else None


# -- coordinator side -----------------------------------------------------------------------
@dataclass
class Rounds:
    arms: list[str]
    rates: dict[str, list[float]] = field(default_factory=dict)      # units/s per round
    cpu_rates: dict[str, list[float]] = field(default_factory=dict)  # units per CPU-second per round
    units: dict[str, float] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    peak_mb: dict[str, float] = field(default_factory=dict)
    gpu_peak_mb: dict[str, float] = field(default_factory=dict)
    extra: dict[str, dict] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)              # arm → why it was left out
    load: tuple[float, float] = (0.0, 0.0)                            # 1-min load average before, after

    def median_rate(self, arm: str) -> float:
        return statistics.median(self.rates[arm])

    def ratios(self, arm: str, other: str, cpu: bool = False) -> list[float]:
        """Per-round ``rate(arm) ÷ rate(other)``: both measured within the same round (``cpu``: per
        CPU-second of each arm's process instead of per wall-clock second)."""
        rates = self.cpu_rates if cpu else self.rates
        return [a / b for a, b in zip(rates[arm], rates[other]) if b > 0]


class ArmFailed(SystemExit):
    """A worker process ended before answering (its log's tail is the message)."""


class _Worker:
    def __init__(self, name: str, argv: Sequence[str], log_dir: str):
        self.name = name
        self.log_path = os.path.join(log_dir, f"{name}.log")
        self._log = open(self.log_path, "w")
        cmd = [sys.executable, *argv, WORKER_FLAG, name]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
                                     text=True, bufsize=1)

    def run(self, steps: int) -> dict:
        try:
            self.proc.stdin.write(json.dumps({"steps": steps}) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except BrokenPipeError:  # it died before reading the command
            line = ""
        if not line:
            self._log.flush()
            tail = open(self.log_path).read()[-4000:]
            raise ArmFailed(f"arm {self.name!r} exited (status {self.proc.wait()}); its log:\n{tail}")
        return json.loads(line)

    def stop(self) -> None:
        try:
            self.proc.stdin.write(json.dumps({"stop": True}) + "\n")
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()


def run_rounds(arms: Sequence[str], *, rounds: int, steps: int, warmup: int, seed: int = 0,
               argv: Sequence[str] | None = None, verbose: bool = True, keep_going: bool = False,
               required: Sequence[str] = ()) -> Rounds:
    """Start one worker per arm (``python <argv> --worker <arm>``), warm each up, then run
    ``rounds`` rounds of ``steps`` steps per arm in a fresh random order each round.

    ``keep_going``: an arm whose worker dies is left out (``Rounds.failed`` says why, its log's
    tail goes to stderr) and the others go on; the ``required`` arms still stop the benchmark."""
    argv = list(sys.argv if argv is None else argv)
    result = Rounds(arms=list(arms), rates={a: [] for a in arms}, cpu_rates={a: [] for a in arms},
                    units={a: 0.0 for a in arms}, seconds={a: 0.0 for a in arms},
                    cpu_seconds={a: 0.0 for a in arms})
    rng = random.Random(seed)

    def attempt(name: str, steps: int, stage: str) -> dict | None:
        try:
            return workers[name].run(steps)
        except ArmFailed as err:
            if not keep_going or name in required:
                raise
            print(f"LEFT OUT {name} (failed {stage}): {err}", file=sys.stderr, flush=True)
            result.failed[name] = f"failed {stage}"
            result.arms.remove(name)
            for table in (result.rates, result.cpu_rates, result.units, result.seconds, result.cpu_seconds,
                          result.peak_mb, result.gpu_peak_mb):
                table.pop(name, None)
            return None

    with tempfile.TemporaryDirectory(prefix="gazelm-bench-") as log_dir:
        workers = {a: _Worker(a, argv, log_dir) for a in arms}
        try:
            for name in list(workers):  # start-up (build, load, compile) + warm-up steps, untimed
                if verbose:
                    print(f"warming up {name} ({warmup} steps)", file=sys.stderr, flush=True)
                attempt(name, warmup, "at start-up")
            result.load = (os.getloadavg()[0], 0.0)
            for r in range(rounds):
                order = rng.sample(list(result.arms), len(result.arms))
                for name in order:
                    reply = attempt(name, steps, f"in round {r + 1}")
                    if reply is None:
                        continue
                    result.rates[name].append(reply["units"] / reply["seconds"] if reply["seconds"] > 0 else 0.0)
                    cpu = reply.get("cpu_seconds", 0.0)
                    result.cpu_rates[name].append(reply["units"] / cpu if cpu > 0 else 0.0)
                    result.cpu_seconds[name] += cpu
                    result.units[name] += reply["units"]
                    result.seconds[name] += reply["seconds"]
                    result.peak_mb[name] = reply.get("peak_mb", 0.0)
                    if "gpu_peak_mb" in reply:
                        result.gpu_peak_mb[name] = reply["gpu_peak_mb"]
                    result.extra[name] = {k: v for k, v in reply.items()
                                          if k not in ("units", "seconds", "cpu_seconds", "peak_mb", "gpu_peak_mb")}
                if verbose:
                    print(f"round {r + 1}/{rounds}: " + ", ".join(f"{a} {result.rates[a][-1]:.1f}/s"
                                                                  for a in order if a in result.rates),
                          file=sys.stderr, flush=True)
            result.load = (result.load[0], os.getloadavg()[0])
        finally:
            for worker in workers.values():
                worker.stop()
    return result


def save_rounds(result: Rounds, path: str) -> None:
    """Every arm's per-round rates and totals as JSON (for ratios the report does not print)."""
    with open(path, "w") as fh:
        json.dump({"arms": result.arms, "rates": result.rates, "cpu_rates": result.cpu_rates, "units": result.units,
                   "seconds": result.seconds, "cpu_seconds": result.cpu_seconds, "load": result.load}, fh, indent=1)


def quantiles(values: Sequence[float]) -> tuple[float, float, float]:
    """25th, 50th, 75th percentile (inclusive method; the median itself for one value)."""
    if len(values) == 1:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def report(result: Rounds, primary: str, peers: Sequence[str], unit: str, references: Sequence[str] = (),
           label: str | None = None) -> float:
    """Print every arm and the per-round ratio of ``primary`` to the best peer; returns that ratio.

    The best peer is the peer with the highest median rate; ``references`` are arms shown
    with their ratio but never chosen as the best peer (e.g. a default-configured peer).
    Arms left out (``run_rounds(keep_going=True)``) are listed; without any peer the ratio is NaN."""
    peers = [a for a in peers if a in result.rates]
    arms = [a for a in [primary, *peers, *references] if a in result.rates]
    gpu = bool(result.gpu_peak_mb)
    w = max([22, *(len(a) + 2 for a in [*arms, *result.failed])])
    gpu_column = f"{'GPU peak MB':>13}" if gpu else ""
    print(f"{'arm':<{w}}{unit + '/s median':>18}{'IQR':>22}{'total ' + unit:>16}{'peak MB':>10}{gpu_column}"
          f"  {primary} ÷ arm")
    for arm in arms:
        q1, q2, q3 = quantiles(result.rates[arm])
        vs = statistics.median(result.ratios(primary, arm)) if arm != primary else 1.0
        memory = f"{result.gpu_peak_mb.get(arm, 0):>13.0f}" if gpu else ""
        print(f"{arm:<{w}}{q2:>18.1f}{f'{q1:.1f}–{q3:.1f}':>22}{result.units[arm]:>16.0f}"
              f"{result.peak_mb.get(arm, 0):>10.0f}{memory}  {vs:.3f}")
    for arm, why in result.failed.items():
        print(f"{arm:<{w}}LEFT OUT: {why} (its log is above, on stderr)")
    left_out = f" (left out: {', '.join(result.failed)})" if result.failed else ""
    if not peers:
        print(f"RATIO{' ' + label if label else ''} nan: no peer arm ran{left_out}")
        return float("nan")
    best = max(peers, key=result.median_rate)
    ratios = result.ratios(primary, best)
    q1, q2, q3 = quantiles(ratios)
    print(f"per-round ratio {primary} ÷ {best} (best peer): median {q2:.3f}, IQR {q1:.3f}–{q3:.3f}, "
          f"min–max {min(ratios):.3f}–{max(ratios):.3f}, {len(ratios)} rounds; "
          f"load average {result.load[0]:.1f} → {result.load[1]:.1f} on {os.cpu_count()} cores")
    whole = (result.units[primary] / result.seconds[primary]) / (result.units[best] / result.seconds[best])
    print(f"whole-run ratio (all {unit} ÷ all seconds of each arm): {whole:.3f}")
    cpu = result.ratios(primary, best, cpu=True)
    if cpu and result.cpu_seconds[primary] > 0 and result.units[best] > 0:
        c1, c2, c3 = quantiles(cpu)
        whole_cpu = (result.units[primary] / result.cpu_seconds[primary]) / (result.units[best] / result.cpu_seconds[best])
        print(f"on CPU time ({unit} per CPU-second of each arm's process; steady under load with 1 thread an arm): "
              f"per-round median {c2:.3f}, IQR {c1:.3f}–{c3:.3f}, min–max {min(cpu):.3f}–{max(cpu):.3f}; "
              f"whole-run {whole_cpu:.3f}")
    print(f"RATIO{' ' + label if label else ''} {q2:.2f}{left_out}")
    return q2
