"""With ``--cache`` and a cluster executor, the submit host restores and stores cached jobs.

Snakemake consults its between-workflow output cache only where a job runs. With
``--profile slurm`` that is inside the SLURM job, which (a) submits a job merely to link cached
files (snakemake/snakemake#3080 notes this), and (b) keys the entry differently: inside the
job, the upstream jobs are plain files, so the key hashes their content, while on the submit
host it hashes the upstream jobs' own keys. A cluster run and a local run would never share
an entry.

:func:`use_submit_host_cache`, called by the Snakefile when ``--cache`` is given, makes the
process that schedules the jobs own the cache:

- a job a remote executor would submit, whose outputs are all in the cache, goes to Snakemake's
  own local executor instead, which links them exactly as in a local run (``cached_or_run``);
- a remote job that finished is stored in the cache by the submit host, under the key a local
  run computes;
- inside a cluster job the cache is off.

This replaces ``JobScheduler.run`` and ``JobScheduler._proceed`` and reads the scheduler's
``_local_executor``: Snakemake internals, not its API. :func:`check_internals` verifies each of
them (and the Snakemake major version) at start-up, so a release that renames one stops the run
with a message naming it, instead of silently turning the restore off.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

_PATCHED = "_rnnrepro_submit_host_cache"
# Cache lookups and stores run here: the executors call back from threads that run an event
# loop, where Snakemake's async_run refuses to run a coroutine.
_CACHE_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rnnrepro-cache")


def _await(workflow: Any, coroutine: Any) -> Any:
    return _CACHE_THREAD.submit(workflow.async_run, coroutine).result()


def _cacheable(job: Any) -> bool:
    rule_cache = None if job.is_group() else job.rule.cache
    return rule_cache is not None and rule_cache.output


# What the patch replaces or reads: method -> its parameters, as the patch calls them.
PATCHED_METHODS = {"run": ("self", "jobs", "executor"), "_proceed": ("self", "job")}
WORKFLOW_ATTRIBUTES = ("async_run", "is_main_process", "local_exec")
SUPPORTED_MAJOR = 9


class SnakemakeInternalsError(RuntimeError):
    """The installed Snakemake lacks an internal the submit-host cache patches or reads."""


def check_internals() -> None:
    """Raise :class:`SnakemakeInternalsError` naming the Snakemake version and every patched or
    read attribute that is missing or has another signature."""
    import inspect

    import snakemake
    import snakemake.api  # loads snakemake.workflow without an import cycle
    from snakemake.scheduling.job_scheduler import JobScheduler
    from snakemake.workflow import Workflow

    version = getattr(snakemake, "__version__", "unknown")
    problems = []
    if not version.startswith(f"{SUPPORTED_MAJOR}."):
        problems.append(f"major version {version.split('.')[0]} (written for "
                        f"{SUPPORTED_MAJOR}.x)")
    for name, parameters in PATCHED_METHODS.items():
        method = getattr(JobScheduler, name, None)
        if method is None:
            problems.append(f"JobScheduler.{name} is missing")
        elif tuple(inspect.signature(method).parameters) != parameters:
            problems.append(f"JobScheduler.{name}{inspect.signature(method)} is not "
                            f"({', '.join(parameters)})")
    try:
        sets_local = "_local_executor" in inspect.getsource(JobScheduler.__init__)
    except (OSError, TypeError):
        sets_local = False
    if not sets_local:
        problems.append("JobScheduler.__init__ no longer sets _local_executor")
    problems += [f"Workflow.{name} is missing" for name in WORKFLOW_ATTRIBUTES
                 if not hasattr(Workflow, name)]
    if problems:
        raise SnakemakeInternalsError(
            f"snakemake {version}: the submit-host output cache "
            f"(rnnrepro.results.submit_host_cache) patches Snakemake internals that changed: "
            f"{'; '.join(problems)}. Run without --cache (the training jobs then run, or are "
            f"restored, inside the cluster jobs), or share trained runs as a results archive "
            f"(snakemake results/archive/<preset>.tar.gz; rnnrepro results unpack).")


def use_submit_host_cache(workflow: Any) -> None:
    """Let the scheduling process restore and store cached jobs (idempotent); with a remote
    executor, first check the Snakemake internals the patch relies on."""
    if not workflow.is_main_process:
        workflow.workflow_settings.cache = None  # the submit host stores this job's outputs
        return
    if not workflow.local_exec:
        check_internals()

    from snakemake.logging import logger
    from snakemake.scheduling.job_scheduler import JobScheduler

    if getattr(JobScheduler, _PATCHED, False):
        return
    submit, proceed = JobScheduler.run, JobScheduler._proceed

    def run(self: Any, jobs: list[Any], executor: Any = None) -> None:
        local = self._local_executor          # checked by check_internals
        if executor is None and local is not None and not self.workflow.dryrun:
            cached = [job for job in jobs if _cacheable(job)
                      and _await(self.workflow, job.rule.cache.exists(job))]
            for job in cached:
                logger.info(f"{job.rule.name} (jobid {job.jobid}): outputs in the output cache, "
                            "restored on the submit host instead of submitting a job")
            if cached:
                submit(self, cached, executor=local)
                jobs = [job for job in jobs if job not in cached]
                if not jobs:
                    return
            self._rnnrepro_submitted = getattr(self, "_rnnrepro_submitted", set()) | {
                job for job in jobs if _cacheable(job)}
        submit(self, jobs, executor)

    def _proceed(self: Any, job: Any) -> None:
        submitted = getattr(self, "_rnnrepro_submitted", set())
        if job in submitted:
            submitted.discard(job)
            try:
                _await(self.workflow, job.rule.cache.store(job))
            except Exception as err:  # a job that cannot be cached is still a finished job
                logger.warning(f"{job.rule.name} (jobid {job.jobid}): not stored in the output "
                               f"cache: {err}")
        proceed(self, job)

    JobScheduler.run, JobScheduler._proceed = run, _proceed
    setattr(JobScheduler, _PATCHED, True)
