"""``rnnrepro plan``: what a configuration's training jobs will cost, before any runs.

Every job's work is counted as its cluster time limit counts it (:mod:`rnnrepro.progress.job_time`)
and priced at config.yaml's ``resources`` rates: core-seconds on the CPU (measured) and
seconds on a GPU (estimated until measured). Jobs train at the same rate when their work
is the same, so they are grouped into kinds: one line per kind, then the totals and the wall
time on N cores (longest jobs first, one core each).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rnnrepro.progress import job_time
from rnnrepro.progress.jobs import TrainingJob, training_jobs
from rnnrepro.progress.status import duration, makespan

RULES = {"memory": "memory_train", "increment": "increment_train", "renet": "renet_train"}


@dataclass(frozen=True)
class Kind:
    """Jobs of one kind: the same work, so the same cost each."""

    label: str
    jobs: int
    cpu_seconds: float  # per job, core-seconds
    gpu_seconds: float  # per job, estimated

    @property
    def core_hours(self) -> float:
        return self.jobs * self.cpu_seconds / 3600

    @property
    def gpu_hours(self) -> float:
        return self.jobs * self.gpu_seconds / 3600


def work(config: Mapping[str, Any], job: TrainingJob) -> dict[str, float]:
    """The job's work in the quantities of its rule's rates."""
    if job.stage == "memory":
        return job_time.memory_work(config, job.name.split("/")[0])
    if job.stage == "increment":
        _, base, digits, cell = job.kind
        return job_time.increment_work(config, base, digits, cell)
    return job_time.renet_work(config, job.kind[1])


def label(config: Mapping[str, Any], job: TrainingJob) -> str:
    """What the job's kind is, in words."""
    if job.stage == "memory":
        _, steps, subset = job.kind
        images = job_time.training_images(config, "mnist", subset)
        return f"memory: {steps} steps, {job.length} epochs of {images:,} images"
    if job.stage == "increment":
        _, base, digits, cell = job.kind
        return f"increment: K={base} N={digits} {cell}, {job.length:,} minibatches"
    return f"renet: {job.kind[1]}, at most {job.length} epochs"


def kinds(config: Mapping[str, Any]) -> list[Kind]:
    """The configured training jobs grouped by kind, in the workflow's stage order."""
    resources = config["resources"]
    grouped: dict[str, Kind] = {}
    for job in training_jobs(config):
        name = label(config, job)
        if name in grouped:
            found = grouped[name]
            grouped[name] = Kind(name, found.jobs + 1, found.cpu_seconds, found.gpu_seconds)
            continue
        amount = work(config, job)
        rule = RULES[job.stage]
        grouped[name] = Kind(name, 1, job_time.seconds(resources, rule, amount, "cpu"),
                             job_time.seconds(resources, rule, amount, "cuda"))
    return list(grouped.values())


def hours(value: float) -> str:
    """Hours with the digits that matter: 1,124 / 12.2 / 0.75 / 0.0031."""
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}" if value >= 0.1 else f"{value:.4f}"


def wall(seconds: float) -> str:
    """A wall time, in days beyond two."""
    return f"{seconds / 86400:.1f} days" if seconds >= 2 * 86400 else duration(seconds)


def report(config: Mapping[str, Any], cores: int, source: str) -> str:
    """The plan as printed: a header, one line per kind, totals, wall time on ``cores``."""
    found = kinds(config)
    width = max([len(kind.label) for kind in found] + [len("job kind")])
    lines = [f"Training cost of {source}: {sum(k.jobs for k in found)} jobs, priced at its "
             f"resources rates (CPU core-hours as measured on the development machines, GPU "
             f"hours estimated)",
             f"{'job kind':<{width}}  {'jobs':>5}  {'core-h/job':>10}  {'core-h':>9}  "
             f"{'GPU-h (est.)':>12}"]
    for kind in found:
        lines.append(f"{kind.label:<{width}}  {kind.jobs:>5}  "
                     f"{hours(kind.cpu_seconds / 3600):>10}  {hours(kind.core_hours):>9}  "
                     f"{hours(kind.gpu_hours):>12}")
    core_hours = sum(kind.core_hours for kind in found)
    gpu_hours = sum(kind.gpu_hours for kind in found)
    lines.append(f"{'total':<{width}}  {sum(k.jobs for k in found):>5}  {'':>10}  "
                 f"{hours(core_hours):>9}  {hours(gpu_hours):>12}")
    each = [kind.cpu_seconds for kind in found for _ in range(kind.jobs)]
    lines.append(f"wall time on {cores} core(s), one job per core, longest first: "
                 f"{wall(makespan(each, cores)) if each else 'none'}"
                 + (f" (the longest job alone: {wall(max(each))})" if each else ""))
    return "\n".join(lines)
