"""Where each training job stands, read from ``results/`` only (metrics, partial histories and
logs), while ``snakemake`` runs or after it stopped; and the remaining wall time at the
measured rates.

A job is *done* (its metrics.json exists, trained here or imported), *running* (its partial
history, checkpoint or log changed recently), *stopped* (a partial history that no longer grows:
the same ``snakemake`` command resumes it from its ``checkpoint.safetensors``, e.g. one a part
archive brought from another machine, or trains it from the start when there is none), *failed*
(its log ends in an error) or *waiting* (nothing written yet).
"""

from __future__ import annotations

import heapq
import json
import math
import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from rnnrepro.paths import CHECKPOINT_FILE, OLD_CHECKPOINT_FILE, PARTIAL_HISTORY_FILE
from rnnrepro.progress.jobs import TrainingJob

DONE, RUNNING, STOPPED, FAILED, WAITING = "done", "running", "stopped", "failed", "waiting"
# A job whose files have not changed for this long (and for 5 of its epochs or minibatches)
# is not running.
QUIET_SECONDS = 300.0
ERROR_MARKERS = ("error:", "Error", "Traceback", "Killed")


@dataclass
class JobStatus:
    """One job's state and what was measured of it."""

    job: TrainingJob
    state: str
    done: int = 0
    metric: float | None = None        # latest (running) or best (done) validation metric
    best_at: int | None = None         # done: the best epoch or the last minibatch
    seconds_each: float | None = None
    remaining: float | None = None     # seconds, at the job's own or its kind's rate
    message: str = ""                  # failed: the log's last line
    checkpoint: str | None = None      # the file a rerun resumes from (or refuses), if any
    within: EpochProgress | None = None  # running: the epoch under way, from the log


@dataclass
class EpochProgress:
    """The progress line a trainer logs within an epoch (rnnrepro.execution.Progress)."""

    epoch: int
    done: int
    total: int
    rate: float        # batches a second
    eta: float         # seconds to the end of the epoch's training


# "epoch 3: 263/782 batches (8.8/s, eta 59s) loss=..." (rnnrepro.execution.Progress.update)
EPOCH_LINE = re.compile(r"epoch (\d+): (\d+)/(\d+) batches \(([\d.]+)/s, eta (\d+)s\)")


def epoch_progress(line: str) -> EpochProgress | None:
    """The within-epoch progress a log line reports, if it is one."""
    found = EPOCH_LINE.search(line)
    if found is None:
        return None
    epoch, done, total = (int(found.group(i)) for i in (1, 2, 3))
    return EpochProgress(epoch, done, total, float(found.group(4)), float(found.group(5)))


def _last_line(path: Path) -> str:
    """The last non-empty line of a text file (read from its end: logs can be long)."""
    with path.open("rb") as handle:
        handle.seek(0, 2)
        handle.seek(max(0, handle.tell() - 8192))
        lines = [line.strip() for line in handle.read().decode(errors="replace").splitlines()]
    return next((line for line in reversed(lines) if line), "")


def _rate(history: pd.DataFrame, axis: str) -> tuple[int, float | None]:
    """(epochs or minibatches done, seconds each) of a history whose wall_time is cumulative."""
    if history.empty or axis not in history or "wall_time" not in history:
        return 0, None
    done = int(history[axis].iloc[-1])
    seconds = float(history["wall_time"].iloc[-1])
    return done, (seconds / done if done > 0 and seconds > 0 else None)


def _read_history(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (OSError, ValueError):
        return pd.DataFrame()


def _done(job: TrainingJob, metrics_path: Path) -> JobStatus:
    metrics = json.loads(metrics_path.read_text())
    history = _read_history(metrics_path.with_name("history.csv"))
    done, rate = _rate(history, job.axis)
    if job.stage == "memory":
        from rnnrepro.memory.runs import current_metrics

        best = current_metrics(metrics)["best"]
        best, value = best["epoch"], best["val_acc"]
    elif job.stage == "increment":
        best, value = metrics["minibatches"], metrics["final_digit_acc"]
    else:
        best, value = metrics["best_epoch"], metrics["val_error"]
    return JobStatus(job, DONE, done=done or job.length, metric=float(value),
                     best_at=int(best), seconds_each=rate, remaining=0.0)


def job_status(job: TrainingJob, results: Path, locate: Callable[[str], str],
               now: float) -> JobStatus:
    """The state of one job; ``locate`` maps a results path to its imported copy, if any."""
    folder = results / job.folder
    metrics = Path(locate(str(folder / "metrics.json")))
    if metrics.exists():
        return _done(job, metrics)
    log = results / job.log
    partial = folder / PARTIAL_HISTORY_FILE
    checkpoint = next((folder / name for name in (CHECKPOINT_FILE, OLD_CHECKPOINT_FILE)
                       if (folder / name).exists()), None)
    last_line = _last_line(log) if log.exists() and log.stat().st_size else ""
    if any(marker in last_line for marker in ERROR_MARKERS):
        status = JobStatus(job, FAILED, message=last_line)
    else:
        status = JobStatus(job, WAITING)
    if partial.exists():
        history = _read_history(partial)
        status.done, status.seconds_each = _rate(history, job.axis)
        if job.metric in history and not history.empty:
            status.metric = float(history[job.metric].iloc[-1])
        if status.seconds_each is not None:
            status.remaining = (job.length - status.done) * status.seconds_each
    status.checkpoint = checkpoint.name if checkpoint is not None else None
    if status.state == FAILED:
        return status
    changed = max((p.stat().st_mtime for p in (partial, log, checkpoint)
                   if p is not None and p.exists()), default=None)
    if changed is None:
        return status
    quiet = max(QUIET_SECONDS, 5 * (status.seconds_each or 0.0))
    status.state = RUNNING if now - changed < quiet else STOPPED
    within = epoch_progress(last_line) if job.axis == "epoch" else None
    if status.state == RUNNING and within is not None and within.epoch == status.done + 1:
        # An epoch under way (a long one: Table 1's ReNets take minutes to hours): its own
        # ETA, then the epochs after it at the history's rate, or at this epoch's.
        status.within = within
        each = status.seconds_each or (within.total / within.rate if within.rate else None)
        if each is not None:
            status.remaining = within.eta + (job.length - within.epoch) * each
    return status


def estimate_waiting(statuses: Sequence[JobStatus]) -> None:
    """Fill in the remaining time of jobs without a rate of their own from the median rate
    of measured jobs of their kind (same stage, sequence length, task or dataset)."""
    rates: dict[tuple, list[float]] = {}
    for status in statuses:
        if status.seconds_each is not None:
            rates.setdefault(status.job.kind, []).append(status.seconds_each)
    for status in statuses:
        if status.remaining is None and status.job.kind in rates:
            rate = statistics.median(rates[status.job.kind])
            status.remaining = (status.job.length - status.done) * rate


def makespan(seconds: Sequence[float], cores: int) -> float:
    """Wall time to run jobs of these durations on ``cores`` one-thread slots, longest first
    (the order a scheduler with no other knowledge would reach about as well)."""
    slots = [0.0] * max(1, cores)
    for duration in sorted(seconds, reverse=True):
        heapq.heapreplace(slots, slots[0] + duration)
    return max(slots)


def statuses(jobs: Sequence[TrainingJob], results: Path, locate: Callable[[str], str],
             now: float | None = None) -> list[JobStatus]:
    """Every job's state, with estimates for those not yet measured."""
    now = time.time() if now is None else now
    found = [job_status(job, results, locate, now) for job in jobs]
    estimate_waiting(found)
    return found


def duration(seconds: float | None) -> str:
    """``1 h 05 min``, ``12 min``, ``40 s``; ``?`` when unknown."""
    if seconds is None or math.isnan(seconds):
        return "?"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def _how_to_continue(checkpoint: str | None) -> str:
    """What rerunning a stopped job does, by the checkpoint in its folder."""
    if checkpoint == CHECKPOINT_FILE:
        return "rerun snakemake to resume"
    if checkpoint == OLD_CHECKPOINT_FILE:
        return (f"an old {OLD_CHECKPOINT_FILE}, which rnnrepro no longer loads: delete it to "
                "train from the start")
    return "no checkpoint: rerun snakemake to train it from the start"


def describe(status: JobStatus) -> str:
    """The line of one job."""
    job = status.job
    head = f"{job.stage:<9} {job.name:<34} {status.state:<8}"
    if status.state == DONE:
        best = "best epoch" if job.axis == "epoch" else "after minibatch"
        text = f"{best} {status.best_at}, {job.metric} {status.metric:.4f}"
    elif status.state in (RUNNING, STOPPED) or status.done:
        text = f"{job.axis} {status.done:,} of {job.length:,}"
        if status.metric is not None:
            text += f", {job.metric} {status.metric:.4f}"
        if status.seconds_each is not None:
            text += f", {status.seconds_each:.3g} s/{job.axis}"
        if status.within is not None:
            now = status.within
            text += (f", epoch {now.epoch}: {now.done:,}/{now.total:,} batches at "
                     f"{now.rate:.2g}/s")
        text += f", ETA {duration(status.remaining)}"
        if status.state == STOPPED:
            text += f" ({_how_to_continue(status.checkpoint)})"
    else:
        text = f"~{duration(status.remaining)} at the measured rate"
    if status.state == FAILED:
        text = f"{text}; log: {status.message}"
    return f"{head} {text}"


def summary(found: Sequence[JobStatus], cores: int) -> str:
    """The totals line: counts per state and the remaining wall time at ``cores``."""
    counts = {state: sum(s.state == state for s in found)
              for state in (DONE, RUNNING, STOPPED, WAITING, FAILED)}
    text = f"{len(found)} training jobs: " + ", ".join(f"{n} {state}"
                                                      for state, n in counts.items())
    open_jobs = [s for s in found if s.state != DONE]
    known = [s.remaining for s in open_jobs if s.remaining is not None]
    unknown = len(open_jobs) - len(known)
    text += (f"; remaining ≈ {duration(makespan(known, cores))} of wall time on {cores} "
             f"core(s) at the measured rates")
    if unknown:
        text += f" ({unknown} job(s) of a kind not measured yet are not counted)"
    return text
