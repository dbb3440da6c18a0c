"""Time `snakemake -n --cores all --profile slurm` on the full paper config (target: < 10 s).

    python benchmarks/slurm_dry_run_speed.py                 # 3 runs in a scratch copy
    python benchmarks/slurm_dry_run_speed.py --repeats 5

Copies the working tree (without results, run state or generated paper files, as the tests
do) to a scratch folder, so the timing sees what a fresh clone sees, then runs the dry run
``--repeats`` times and prints wall and CPU seconds per run with the load average.
snakemake-executor-plugin-slurm calls `scontrol` when it loads; where SLURM is installed but its
controller is down, that alone costs about 9 s, so the script first prints `scontrol ping`'s
status line.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from conftest import copy_repo  # noqa: E402  (the test suite's copy of the working tree)


def controller_state() -> str:
    """What `scontrol ping` says, or why it could not be asked."""
    if shutil.which("scontrol") is None:
        return "no scontrol on PATH"
    try:
        proc = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return "scontrol ping timed out"
    # First line: "Slurmctld(primary) at <host> is UP|DOWN" (a banner of asterisks follows DOWN).
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    return lines[0] if lines else f"scontrol ping exited {proc.returncode}"


def timed_dry_run(workdir: Path) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (children) and job count of one dry run."""
    cmd = [sys.executable, "-m", "snakemake", "-n", "--cores", "all", "--profile", "slurm"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=300)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"dry run failed ({proc.returncode}) in {workdir}:\n{proc.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    jobs = proc.stdout.split("Job stats:", 1)[1].split("total", 1)[1].split()[0]
    return wall, cpu, int(jobs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed dry runs (default 3)")
    args = parser.parse_args()

    print(f"SLURM controller: {controller_state()}")
    with tempfile.TemporaryDirectory(prefix="rnnrepro-dry-run-") as scratch:
        workdir = copy_repo(Path(scratch) / "repo")
        walls = []
        for run in range(1, args.repeats + 1):
            wall, cpu, jobs = timed_dry_run(workdir)
            walls.append(wall)
            print(f"run {run}: {jobs} jobs listed in {wall:.1f} s wall, {cpu:.1f} s CPU, "
                  f"load average {os.getloadavg()[0]:.1f}", flush=True)
    print(f"median {statistics.median(walls):.1f} s, max {max(walls):.1f} s (target < 10 s)")


if __name__ == "__main__":
    main()
