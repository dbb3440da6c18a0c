"""The submit-host output cache patches Snakemake internals: a check at start-up names any that
a Snakemake release renamed (fast, no cluster needed; the SLURM tests exercise the patch)."""

from __future__ import annotations

import pytest


def test_the_snakemake_internals_the_cache_patch_uses_are_there():
    """Fast (no cluster): the installed Snakemake has every attribute the submit-host cache
    patches or reads, with the signatures it calls."""
    from rnnrepro.results.submit_host_cache import check_internals

    check_internals()


@pytest.mark.parametrize("missing", ["_proceed", "run"])
def test_a_renamed_snakemake_internal_stops_the_run_by_name(monkeypatch, missing):
    import snakemake
    from snakemake.scheduling.job_scheduler import JobScheduler

    from rnnrepro.results.submit_host_cache import SnakemakeInternalsError, check_internals

    monkeypatch.delattr(JobScheduler, missing)
    with pytest.raises(SnakemakeInternalsError) as err:
        check_internals()
    message = str(err.value)
    assert f"snakemake {snakemake.__version__}" in message
    assert f"JobScheduler.{missing} is missing" in message and "without --cache" in message
