"""One definition of a group's best variant: with two seeds whose single best runs disagree with
the best mean, the summary files, the Fig. 9 data and Table 4 of tables.tex name the same one."""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from rnnrepro.cli import main
from test_memory_train import run_summary, write_fake_run
from test_paper_tables import PUBLISHED, best_rows, parse_tables, synthetic_verdicts


def runs_of(frame: pd.DataFrame) -> list[tuple[str, float, int]]:
    """The distinct (representation, learning rate, seed) of a summary file, sorted."""
    keys = frame[["representation", "learning_rate", "seed"]].drop_duplicates()
    return sorted(keys.itertuples(index=False, name=None))


def test_best_is_the_best_mean_over_seeds_everywhere(tmp_path: Path) -> None:
    # Group "original": 3e-05 has the single best run (0.9, seed 0) but the lower mean (0.7);
    # 1e-06 has the best mean (0.8). Group "transposed" has one variant.
    runs = [write_fake_run(tmp_path, "original", "original", 3e-5, [0.5, 0.9], seed=0),
            write_fake_run(tmp_path, "original", "original", 3e-5, [0.5, 0.5], seed=1),
            write_fake_run(tmp_path, "original", "original", 1e-6, [0.8, 0.7], seed=0),
            write_fake_run(tmp_path, "original", "original", 1e-6, [0.6, 0.8], seed=1),
            write_fake_run(tmp_path, "transposed", "transposed", 3e-5, [0.3, 0.4], seed=0)]
    files = run_summary(runs, tmp_path / "summary")

    variants = pd.read_csv(files["variants"])
    assert variants.loc[variants["best"], "variant"].tolist() == ["original@1e-06",
                                                             "transposed@3e-05"]
    original = variants.set_index("variant").loc[["original@3e-05", "original@1e-06"]]
    assert original["val_acc_mean"].tolist() == [0.7, 0.8]
    assert original["n"].tolist() == [2, 2]
    best_runs = runs_of(pd.read_csv(files["table4"]))   # every seed of each best variant
    assert best_runs == [("original", 1e-6, 0), ("original", 1e-6, 1), ("transposed", 3e-5, 0)]
    assert runs_of(pd.read_csv(files["curves"])) == best_runs   # Fig. 9: the same runs' history
    assert main(["memory-figure-curves", "--curves", str(files["curves"]),
                 "--output", str(tmp_path / "curves.pdf"),
                 "--png", str(tmp_path / "curves.png")]) == 0

    # Table 4 of tables.tex, formatted from the same summary.
    (tmp_path / "paper").mkdir()
    shutil.copy(PUBLISHED, tmp_path / "paper" / "published.yaml")
    pd.DataFrame(columns=["dataset", "n", "test_error_percent_mean",
                          "test_error_percent_std"]).to_csv(tmp_path / "errors.csv", index=False)
    synthetic_verdicts(np.random.default_rng(0)).to_csv(tmp_path / "verdicts.csv", index=False)
    with contextlib.chdir(tmp_path):
        assert main(["paper-tables", "--published", "paper/published.yaml",
                     "--renet-errors", "errors.csv", "--memory-variants", str(files["variants"]),
                     "--memory-groups", str(files["groups"]), "--verdicts", "verdicts.csv",
                     "--settings", json.dumps({"preset": "test"}),
                     "--output", "paper/tables.tex", "--html", "tables.html"]) == 0
    table4 = {row[0]: row for row in best_rows(parse_tables(
        (tmp_path / "paper/tables.tex").read_text())["tab:memory-best"])}
    assert table4["original"][6] == "original@1e-06"
    assert table4["original"][7] == "2"                       # n seeds
    assert table4["original"][10] == "0.800 ± 0.000"          # vacc mean ± std over seeds
    assert table4["transposed"][6] == "transposed@3e-05"
