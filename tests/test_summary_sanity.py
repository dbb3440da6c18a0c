"""Impossible numbers never reach the tables: each stage's summary rule, run by Snakemake on a
copy of the quick run with one file made impossible (as a careless archive or a corrupted disk
would), fails with a message naming the file and the value."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from conftest import QUICK

pytestmark = pytest.mark.slow

MEMORY = "results/quick/memory/original/lr3e-05/seed0"
OTHER = "results/quick/memory/transposed/lr3e-05/seed0"
INCREMENT = "results/quick/increment/K10-N7/simple/rnn/seed0"
RENET = "results/quick/renet/mnist/seed0"


def rewrite(path: Path, text: str) -> None:
    """Replace a file (a symlink into the output cache is replaced, never written through)."""
    path.unlink()
    path.write_text(text)


def edit_json(path: Path, change: Callable[[dict], None]) -> None:
    data = json.loads(path.read_text())
    change(data)
    rewrite(path, json.dumps(data, allow_nan=True))


def renet_error(root: Path) -> None:
    edit_json(root / RENET / "metrics.json", lambda m: m.update(test_error=-5))


def memory_accuracy(root: Path) -> None:
    edit_json(root / MEMORY / "metrics.json", lambda m: m["best"].update(test_acc=7.5))


def increment_nan_history(root: Path) -> None:
    path = root / INCREMENT / "history.csv"
    frame = pd.read_csv(path)
    frame["digit_acc"] = float("nan")
    rewrite(path, frame.to_csv(index=False))


def increment_inf_metrics(root: Path) -> None:
    edit_json(root / INCREMENT / "metrics.json", lambda m: m.update(final_digit_acc=math_inf()))


def math_inf() -> float:
    return float("inf")


def swapped_metrics(root: Path) -> None:
    first, second = root / MEMORY / "metrics.json", root / OTHER / "metrics.json"
    a, b = first.read_text(), second.read_text()
    rewrite(first, b)
    rewrite(second, a)


def empty_history(root: Path) -> None:
    rewrite(root / MEMORY / "history.csv", "")


def huge_history(root: Path) -> None:
    path = root / MEMORY / "history.csv"
    path.unlink()
    with path.open("wb") as handle:      # a sparse file: 65 MiB on paper, nothing on disk
        handle.truncate(65 * 2**20)


CASES = {
    "renet test_error -5": (renet_error, "results/quick/renet/summary.csv",
                            f"{RENET}/metrics.json: test_error = -5 "),
    "memory test_acc 7.5": (memory_accuracy, "results/quick/memory/summary/variants.csv",
                            f"{MEMORY}/metrics.json: best.test_acc = 7.5 "),
    "increment NaN history": (increment_nan_history, "results/quick/increment/summary.csv",
                              f"{INCREMENT}/history.csv: column digit_acc = nan"),
    "increment inf metrics": (increment_inf_metrics, "results/quick/increment/summary.csv",
                              f"{INCREMENT}/metrics.json: final_digit_acc = inf"),
    "swapped metrics": (swapped_metrics, "results/quick/memory/summary/variants.csv",
                        "files of two runs swapped?"),
    "empty history": (empty_history, "results/quick/memory/summary/variants.csv",
                      f"{MEMORY}/history.csv: not a readable CSV"),
    "huge history": (huge_history, "results/quick/memory/summary/variants.csv",
                     f"{MEMORY}/history.csv: 68,157,440 bytes, over the limit"),
}


@pytest.mark.parametrize("case", CASES)
def test_the_summary_rule_refuses_an_impossible_file(quick_run, tmp_path, case):
    corrupt, target, expected = CASES[case]
    workdir = tmp_path / "repo"
    shutil.copytree(quick_run, workdir, symlinks=True,
                    ignore=shutil.ignore_patterns(".snakemake"))
    corrupt(workdir)
    done = subprocess.run([sys.executable, "-m", "snakemake", target, "--cores", "1",
                           "--configfile", QUICK], cwd=workdir, capture_output=True, text=True,
                          env={**os.environ, "PYTHONHASHSEED": "0"})
    output = done.stdout + done.stderr
    assert done.returncode != 0, output[-3000:]
    assert expected in output, output[-3000:]
    assert "_train" not in " ".join(line for line in output.splitlines()
                                    if line.startswith("rule "))
