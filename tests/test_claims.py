"""Claims: paper/claims.yaml validated, and verdicts computed on synthetic results where the
answer is known (clear effect either way, no effect, one seed, missing runs)."""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from rnnrepro.claims import checks, evaluate, results, spec
from rnnrepro.files import write_csv
from rnnrepro.memory.representations import group
from rnnrepro.paper.claims_table import claims_tables, ours, read_verdicts
from rnnrepro.paper.layout import latex_text, render_latex

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = {"mnist": (0.45, [0.28, 0.31, 0.39, 0.39, 0.4, 0.44, 0.45, 0.47]),
             "cifar10": (12.35, [4.5, 6.28]), "svhn": (2.38, [1.92, 2.23])}
SETTINGS = spec.Settings(confidence=0.95, interval="t", min_n=2)


def memory_runs(values: dict[str, list[float]], latency: dict[str, list[float]] | None = None
                ) -> pd.DataFrame:
    """A memory_runs table: representation -> vacc per seed (and latency per seed)."""
    rows = []
    for representation, per_seed in values.items():
        for seed, vacc in enumerate(per_seed):
            rows.append({"representation": representation, "group": group(representation),
                         "learning_rate": 3e-5, "seed": seed, "epoch": 5, "acc": vacc,
                         "val_acc": vacc, "loss": 0.1, "val_loss": 0.1, "test_acc": vacc,
                         "test_loss": 0.1, "epochs_run": 5, "train_images": 1000,
                         "latency_mean": (latency or {}).get(representation,
                                                             [20.0] * 9)[seed]})
    frame = pd.DataFrame(rows)
    return results._permutation(frame)


def comparison(**overrides) -> spec.Comparison:
    raw = {"label": "transposed vs transposed random permute", "data": "memory_runs",
           "measure": {"column": "val_acc"}, "a": {"group": "transposed"},
           "b": {"group": "transposed random permute"}, "pair_by": ["seed", "learning_rate"],
           "effect": "relative", "expect": "a > b", "claimed": {"value": 0.007, "text": "0.7 %"},
           **overrides}
    raw = {key: value for key, value in raw.items() if value is not None}
    return spec.parse({"claims": [{"id": "T1", "paper": "memory", "where": "here",
                                   "summary": "test", "quote": "q", "comparisons": [raw]}]}
                      )[1][0].comparisons[0]


def one_row(comp: spec.Comparison, tables: dict[str, pd.DataFrame]) -> dict:
    claim = spec.Claim("T1", "memory", "here", "test", "q", (comp,))
    (row,) = evaluate.verdict_rows([claim], SETTINGS, tables, PUBLISHED)
    return row


def permuted(base: str, per_seed: list[float], spread: float = 0.0) -> dict[str, list[float]]:
    """Three permutations of ``base`` around the given per-seed values."""
    return {f"{base}-perm{k}": [v + (k - 1) * spread for v in per_seed] for k in range(3)}


def test_t_interval_matches_the_formula():
    mean, low, high = evaluate.t_interval([1.0, 2.0, 3.0], 0.95)
    half = 4.302652729911275 * 1.0 / math.sqrt(3)  # t(0.975, 2) * s / sqrt(n)
    assert mean == pytest.approx(2.0)
    assert (low, high) == pytest.approx((2.0 - half, 2.0 + half))


def test_clear_effect_in_the_claimed_direction_is_supported():
    base = [0.95, 0.96, 0.94, 0.955]
    tables = {"memory_runs": memory_runs({"transposed": base,
                                          **permuted("transposed", [0.90, 0.91, 0.89, 0.90],
                                                     spread=0.01)})}
    row = one_row(comparison(), tables)
    # Units are seeds; the three permutations of a seed are averaged first.
    diffs = [(a - b) / a for a, b in zip(base, [0.90, 0.91, 0.89, 0.90], strict=True)]
    assert row["n"] == 4
    assert [float(d) for d in row["differences"].split("; ")] == pytest.approx(diffs, rel=1e-5)
    mean, low, high = evaluate.t_interval(diffs, 0.95)
    assert (row["mean"], row["ci_low"], row["ci_high"]) == pytest.approx((mean, low, high))
    assert row["verdict"] == "supported" and low > 0
    assert row["magnitude"] == (f"text 0.7 %: below our CI by "
                                f"{(low - 0.007) * 100:.1f} points")
    assert row["budget"] == "5,000 images per run"
    assert row["units"].startswith("seed=0 learning_rate=3e-05")


def test_clear_effect_against_the_claim_is_contradicted():
    tables = {"memory_runs": memory_runs({"transposed": [0.90, 0.91, 0.89],
                                          **permuted("transposed", [0.95, 0.95, 0.96])})}
    row = one_row(comparison(), tables)
    assert row["verdict"] == "contradicted" and row["ci_high"] < 0 and row["n"] == 3


def test_no_effect_is_inconclusive():
    tables = {"memory_runs": memory_runs({"transposed": [0.90, 0.92, 0.91],
                                          **permuted("transposed", [0.91, 0.91, 0.91])})}
    row = one_row(comparison(), tables)
    assert row["verdict"] == "inconclusive" and row["reason"] == "CI includes 0"
    assert row["ci_low"] < 0 < row["ci_high"]


def test_single_seed_is_inconclusive_with_its_reason():
    tables = {"memory_runs": memory_runs({"transposed": [0.95],
                                          **permuted("transposed", [0.80])})}
    row = one_row(comparison(), tables)
    assert row["verdict"] == "inconclusive" and row["n"] == 1
    assert row["ci_low"] is None and "n = 1" in row["reason"]
    assert row["mean"] == pytest.approx((0.95 - 0.80) / 0.95)


def test_missing_runs_are_not_run():
    tables = {"memory_runs": memory_runs({"transposed": [0.95, 0.96]})}
    row = one_row(comparison(), tables)
    assert row["verdict"] == "not run" and row["n"] == 0
    assert "no runs of b" in row["reason"]


def test_pairing_by_permutation_index_and_latency_range():
    latency = {**{f"original-perm{k}": [22.0 + k, 23.0 + k, 21.0 + k] for k in range(3)},
               **{f"transposed-perm{k}": [17.5 + k, 18.0 + k, 16.5 + k] for k in range(3)}}
    values = {name: [0.9, 0.9, 0.9] for name in latency}
    comp = comparison(label="latency", measure={"column": "latency_mean"},
                      a={"group": "original random permute"},
                      b={"group": "transposed random permute"},
                      pair_by=["seed", "learning_rate", "permutation"], effect="difference",
                      claimed={"value": [4, 5], "text": "4–5 steps"})
    row = one_row(comp, {"memory_runs": memory_runs(values, latency)})
    assert row["n"] == 9  # 3 seeds x 3 permutation indices, each its own pair
    assert row["mean"] == pytest.approx(np.mean([4.5, 5.0, 4.5]))
    assert row["verdict"] == "supported"
    assert row["magnitude"] == "text 4–5: consistent"  # the interval overlaps 4-5


def epochs_table(curves: dict[tuple[str, int], list[float]]) -> pd.DataFrame:
    rows = [{"representation": rep, "group": group(rep), "learning_rate": 3e-5, "seed": seed,
             "epoch": epoch, "acc": v, "val_acc": v, "test_acc": v, "loss": 0.1,
             "val_loss": 0.1, "test_loss": 0.1, "train_images": 1000}
            for (rep, seed), curve in curves.items() for epoch, v in enumerate(curve, 1)]
    return results._permutation(pd.DataFrame(rows))


def test_epoch_measures_mean_window_and_relative_at_epoch():
    fast = [0.80, 0.90, 0.95, 0.96, 0.97, 0.975]
    slow = [0.60, 0.70, 0.80, 0.85, 0.90, 0.95]
    curves = {("transposed", s): [v + 0.001 * s for v in fast] for s in range(3)}
    curves.update({("original", s): [v - 0.001 * s for v in slow] for s in range(3)})
    curves[("original", 3)] = slow[:2]  # a run too short for the at-epoch measure
    tables = {"memory_epochs": epochs_table(curves)}
    m3 = comparison(data="memory_epochs", measure={"column": "val_acc", "epochs": [1, 5]},
                    a={"group": "transposed"}, b={"group": "original"}, effect="difference",
                    claimed=None)
    row = one_row(m3, tables)
    assert row["n"] == 3 and row["verdict"] == "supported"
    assert row["a_mean"] == pytest.approx(np.mean(fast[:5]) + 0.001)
    m5 = comparison(data="memory_epochs",
                    measure={"column": "val_acc", "at_epoch": 3, "relative_to_best": True,
                             "min_epochs": 6},
                    a={"group": ["transposed", "original"]}, b=None, pair_by=[],
                    reference=0.98, expect="a > reference", effect="difference", claimed=None)
    row = one_row(m5, tables)
    assert row["n"] == 6 and "1 run(s) end before epoch 6" in row["note"]
    ratios = [0.95 / 0.975] * 3 + [0.80 / 0.95] * 3
    assert row["a_mean"] == pytest.approx(np.mean(ratios), abs=2e-3)
    assert row["verdict"] == "inconclusive"  # fast runs above 0.98 x best, slow ones below


def test_increment_area_and_renet_reference():
    rows = []
    for cell in ("rnn", "lstm", "gru"):
        for order, curve in (("simple", [0.5, 0.9, 1.0]), ("complicated", [0.5, 0.7, 0.9])):
            for i, acc in enumerate(curve):
                rows.append({"base": 10, "digits": 7, "order": order, "cell": cell, "seed": 0,
                             "minibatch": 512 * i, "digit_acc": acc + 0.01 * len(cell),
                             "number_acc": 0.0, "train_loss": 0.0})
    tables = {"increment_evaluations": pd.DataFrame(rows),
              "renet_runs": pd.DataFrame([{"dataset": "mnist", "seed": s, "test_error": e,
                                           "val_error": e, "best_epoch": 3}
                                          for s, e in enumerate([0.0069, 0.0071])])}
    m6 = comparison(data="increment_evaluations", measure={"column": "digit_acc", "over": "all"},
                    a={"base": 10, "digits": 7, "order": "simple"},
                    b={"base": 10, "digits": 7, "order": "complicated"},
                    pair_by=["cell", "seed"], effect="difference", claimed=None)
    row = one_row(m6, tables)
    assert row["n"] == 3 and row["mean"] == pytest.approx(0.1)  # 0.8 - 0.7 per cell
    assert row["ci_low"] == pytest.approx(row["mean"])  # identical differences: a point
    assert row["verdict"] == "supported"
    r1 = comparison(data="renet_runs", measure={"column": "test_error", "scale": 100},
                    a={"dataset": "mnist"}, b=None, pair_by=[], reference="published",
                    expect="a < reference", effect="difference", claimed=None)
    row = one_row(r1, tables)
    assert row["reference"] == 0.45 and row["n"] == 2
    assert row["mean"] == pytest.approx(0.70 - 0.45)
    assert row["verdict"] == "contradicted"  # both seeds clearly above 0.45 %
    assert "rank 9 of 9 with the CNN rows" in row["note"]


@pytest.mark.parametrize(("override", "key"), [
    ({"a": {"group": "transposd"}}, "claim T1, comparison 'x'.a.group"),
    ({"measure": {"column": "accuracy"}}, "claim T1, comparison 'x'.measure.column"),
    ({"data": "memory_run"}, "claim T1, comparison 'x'.data"),
    ({"pair_by": ["sead"]}, "claim T1, comparison 'x'.pair_by"),
    ({"expect": "a >> b"}, "claim T1, comparison 'x'.expect"),
])
def test_bad_claims_name_the_claim_and_key(override, key):
    with pytest.raises(spec.ClaimsError) as err:
        comparison(label="x", **override)
    assert key in str(err.value)


def test_the_papers_claims_file_is_valid_and_complete():
    settings, claims = spec.load(ROOT / "paper" / "claims.yaml")
    assert settings.interval == "t" and settings.confidence == 0.95
    assert [c.id for c in claims] == ["M1", "M2", "M3", "M4", "M5", "M6", "M7", "R1"]
    m1 = {(c.label, c.reading): c.claimed for c in claims[0].comparisons}
    flattened = m1[("flattened vs flattened random permute", "validation")]
    assert flattened[0].value == 0.14 and flattened[0].source == "text"
    assert flattened[1].table == ("best", "flattened", "flattened random permute")
    assert all(c.quote for c in claims)
    # M6 is evaluated under each reading of its open measure.
    m6 = claims[5]
    assert {c.reading for c in m6.comparisons} == {
        "per digit, over the run", "whole number, over the run", "per digit, at the end",
        "whole number, at the end"}


def write_results(folder: Path, claims: dict | None = None) -> list[str]:
    """Synthetic summary files and the claims command's arguments for them."""
    runs = memory_runs({"transposed": [0.95, 0.96, 0.97],
                        **permuted("transposed", [0.90, 0.91, 0.90])})
    runs.drop(columns=["latency_mean", "permutation"]).to_csv(folder / "table3.csv", index=False)
    runs[["representation", "learning_rate", "seed", "latency_mean"]].to_csv(
        folder / "table2.csv", index=False)
    epochs_table({("transposed", 0): [0.9, 0.95]}).drop(columns="permutation").to_csv(
        folder / "epochs.csv", index=False)
    pd.DataFrame(columns=["base", "digits", "order", "cell", "seed", "minibatch", "digit_acc",
                          "number_acc", "train_loss"]).to_csv(folder / "evaluations.csv",
                                                              index=False)
    pd.DataFrame([{"dataset": "mnist", "seed": 0, "test_error": 0.0069, "val_error": 0.0076,
                   "best_epoch": 9}]).to_csv(folder / "renet.csv", index=False)
    claims_path = ROOT / "paper" / "claims.yaml"
    if claims is not None:
        claims_path = folder / "claims.yaml"
        claims_path.write_text(yaml.safe_dump(claims))
    return ["claims", "--claims", str(claims_path),
            "--published", str(ROOT / "paper" / "published.yaml"),
            "--memory-runs", str(folder / "table3.csv"),
            "--memory-latency", str(folder / "table2.csv"),
            "--memory-epochs", str(folder / "epochs.csv"),
            "--increment-evaluations", str(folder / "evaluations.csv"),
            "--renet-summary", str(folder / "renet.csv"), "--output", str(folder / "v.csv"),
            "--magnitudes", str(folder / "m.csv")]


def test_claims_command_writes_a_verdict_for_every_comparison(tmp_path):
    args = write_results(tmp_path)
    done = subprocess.run([sys.executable, "-m", "rnnrepro", *args], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    frame = read_verdicts(tmp_path / "v.csv")
    _, claims = spec.load(ROOT / "paper" / "claims.yaml")
    assert len(frame) == sum(len(c.comparisons) for c in claims)
    frame = frame[frame["reading"].isin(["", "validation"])]
    verdicts = dict(zip(frame["comparison"], frame["verdict"], strict=True))
    assert verdicts["transposed vs transposed random permute"] == "supported"
    assert verdicts["original vs original random permute"] == "not run"
    assert verdicts["MNIST test error (%) − the paper's"] == "inconclusive"
    assert verdicts["CIFAR-10 test error (%) − the paper's"] == "not run"
    # The table prints each comparison with the verdict, formatted from the CSV.
    latex = "".join(render_latex(table) for table in claims_tables(frame, "test"))
    assert r"\label{tab:claims}" in latex and r"\label{tab:claims-increment}" in latex
    row = frame[frame["comparison"] == "transposed vs transposed random permute"].iloc[0]
    assert ours(row) == "+5.9 % [+3.1, +8.7]"  # mean (0.05, 0.0521, 0.0722), t interval
    assert latex_text(ours(row)) in latex
    with open(tmp_path / "v.csv", newline="") as fh:
        assert next(csv.reader(fh)) == list(evaluate.VERDICT_COLUMNS)
    # Both of M1's transposed magnitudes (the text's 0.7 %, Table 4's .979 -> .964) checked.
    magnitudes = pd.read_csv(tmp_path / "m.csv")
    m1 = magnitudes[(magnitudes["comparison"] == "transposed vs transposed random permute")
                    & (magnitudes["reading"] == "validation")]
    assert list(m1["source"]) == ["text", "Table 4"]
    assert m1["claimed_low"].tolist() == pytest.approx([0.007, (0.979 - 0.964) / 0.979])
    assert list(m1["check"]) == ["paper below", "paper below"]


def test_claims_command_refuses_an_unknown_group_naming_claim_and_key(tmp_path):
    document = yaml.safe_load((ROOT / "paper" / "claims.yaml").read_text())
    document["claims"][1]["comparisons"][0]["b"] = {"group": "flatened"}
    args = write_results(tmp_path, document)
    done = subprocess.run([sys.executable, "-m", "rnnrepro", *args], capture_output=True,
                          text=True)
    assert done.returncode == 2
    assert "claim M2, comparison 'original vs flattened'.b.group" in done.stderr
    assert "flatened" in done.stderr and not (tmp_path / "v.csv").exists()


def test_claims_without_the_memory_stage_read_not_run(tmp_path):
    """memory.representations: [] (the renet-mnist preset): on the memory summary of no runs,
    as `rnnrepro memory-summary` writes it, every memory claim reads "not run" and ReNet's R1
    is evaluated as before."""
    from rnnrepro.cli import main

    args = write_results(tmp_path)
    summary = {"table2": "table2.csv", "table3": "table3.csv", "epochs": "epochs.csv",
               **{name: f"summary/{name}.csv" for name in ("variants", "groups", "table4",
                                                            "curves")},
               "notes": "summary/notes.json"}
    assert main(["memory-summary", "--metrics", "--histories",
                 *[arg for name, path in summary.items()
                   for arg in (f"--{name}", str(tmp_path / path))]]) == 0
    assert main(args) == 0
    frame = read_verdicts(tmp_path / "v.csv")
    memory = frame[frame["data"].str.startswith("memory_")]
    assert set(memory["claim"]) == {"M1", "M2", "M3", "M4", "M5", "M7"}
    assert set(memory["verdict"]) == {"not run"} and (memory["n"] == 0).all()
    r1 = frame[(frame["claim"] == "R1") & (frame["comparison"].str.startswith("MNIST"))]
    assert r1["verdict"].tolist() == ["inconclusive"] and r1["n"].tolist() == [1]


def test_readings_agreement_names_each_reading_whole():
    rows = [{"reading": "per digit, over the run", "verdict": "supported"},
            {"reading": "whole number, over the run", "verdict": "inconclusive"},
            {"reading": "per digit, at the end", "verdict": "supported"}]
    assert checks.readings_agreement(rows) == (
        "differ: supported under 'per digit, over the run' and 'per digit, at the end'; "
        "inconclusive under 'whole number, over the run'")
    assert checks.readings_agreement(rows[:1]) == ""
    assert checks.readings_agreement([rows[0], rows[2]]) == "agree"


# --------------------------------------------------------------------------------------------
# Magnitudes, budgets, readings and the planning figure, on results of known outcome

@pytest.mark.parametrize(("claimed", "check", "distance"), [
    ((0.05, 0.05), "consistent", 0.0),           # inside [0.04, 0.06]
    ((0.01, 0.01), "paper below", 0.03),         # 0.03 below the interval's low end
    ((0.08, 0.08), "paper above", 0.02),
    ((0.03, 0.045), "consistent", 0.0),          # a range overlapping the interval
    ((0.065, 0.09), "paper above", 0.005),
])
def test_magnitude_against_the_interval(claimed, check, distance):
    found, gap = checks.check_magnitude(*claimed, mean=0.05, ci=(0.04, 0.06))
    assert found == check and gap == pytest.approx(distance)


def test_table_magnitude_comes_from_the_papers_own_numbers():
    comp = comparison(claimed=[{"value": 0.014, "text": "1.4 %", "source": "text"},
                               {"table": {"name": "best", "a": "original",
                                          "b": "original random permute"},
                                "source": "Table 4"}])
    tables = {"best": {"original": 0.978, "original random permute": 0.958}}
    found = checks.magnitude_checks(comp, 0.02, (0.019, 0.021), tables)
    assert [c.source for c in found] == ["text", "Table 4"]
    assert found[1].low == pytest.approx((0.978 - 0.958) / 0.978)   # 2.0 %, not the text's 1.4
    assert [c.check for c in found] == ["paper below", "consistent"]
    text = checks.describe_magnitudes(found, "relative")
    assert text == "text 1.4 %: below our CI by 0.5 points; Table 4 2.0 %: consistent"


def test_unequal_budgets_make_a_clear_effect_inconclusive():
    runs = memory_runs({"original": [0.97, 0.975, 0.972], "flattened": [0.80, 0.82, 0.81]})
    flattened = runs["group"] == "flattened"
    runs.loc[flattened, "epochs_run"] = 4
    runs.loc[flattened, "train_images"] = 10_000
    runs.loc[~flattened, "epochs_run"] = 20
    runs.loc[~flattened, "train_images"] = 50_000
    comp = comparison(label="original vs flattened", a={"group": "original"},
                      b={"group": "flattened"}, claimed=None)
    row = one_row(comp, {"memory_runs": runs})
    assert row["ci_low"] > 0   # the interval alone would support the claim
    assert row["verdict"] == "inconclusive"
    assert row["reason"].startswith("unequal budgets: 1,000,000 vs 40,000 images")
    assert row["budget"] == "unequal: 1,000,000 vs 40,000 images"
    assert row["n_needed"] is None


def test_observations_needed_is_the_first_n_whose_interval_excludes_zero():
    differences = [0.01, -0.005, 0.02]
    n = checks.observations_needed(differences, 0.95)
    mean, sd = np.mean(differences), np.std(differences, ddof=1)
    half = lambda k: float(stats_t(k)) * sd / math.sqrt(k)   # noqa: E731
    assert half(n) < mean <= half(n - 1)
    assert checks.observations_needed([0.01, 0.01], 0.95) is None   # no spread: nothing to plan
    assert checks.observations_needed([0.01], 0.95) is None


def stats_t(n: int) -> float:
    from scipy import stats
    return stats.t.ppf(0.975, n - 1)


def test_inconclusive_rows_carry_the_planning_figure():
    tables = {"memory_runs": memory_runs({"transposed": [0.90, 0.92, 0.91],
                                          **permuted("transposed", [0.905, 0.91, 0.90])})}
    row = one_row(comparison(), tables)
    assert row["verdict"] == "inconclusive"
    assert row["n_needed"] == checks.observations_needed(
        [float(d) for d in row["differences"].split("; ")], 0.95)


def increment_rows(curves: dict[tuple[str, str], tuple[list[float], list[float]]]
                   ) -> pd.DataFrame:
    """An increment_evaluations table: (order, cell) -> (digit_acc, number_acc) curves."""
    rows = []
    for (order, cell), (digit, number) in curves.items():
        for i, (d, w) in enumerate(zip(digit, number, strict=True)):
            rows.append({"base": 10, "digits": 7, "order": order, "cell": cell, "seed": 0,
                         "minibatch": 1024 * (i + 1), "digit_acc": d, "number_acc": w,
                         "train_loss": 0.0})
    return pd.DataFrame(rows)


def test_readings_that_disagree_are_said_so(tmp_path):
    """Simple leads early (area under the curve) but complicated ends higher, in every cell:
    the over-the-run readings support the claim, the end-of-training ones contradict it."""
    curves = {}
    for k, cell in enumerate(("rnn", "lstm", "gru")):
        curves[("simple", cell)] = ([0.8 + k / 100, 0.9, 0.92], [0.3, 0.5, 0.55 - k / 100])
        curves[("complicated", cell)] = ([0.5, 0.7, 0.97 - k / 100], [0.1, 0.3, 0.7 + k / 100])
    document = {"claims": [{
        "id": "T6", "paper": "memory", "where": "here", "summary": "s", "quote": "q",
        "readings": [
            {"label": "per digit, over the run", "measure": {"column": "digit_acc",
                                                              "over": "all"}},
            {"label": "whole number, at the end", "measure": {"column": "number_acc",
                                                               "at_epoch": "last"}}],
        "comparisons": [{"label": "simple vs complicated", "data": "increment_evaluations",
                         "a": {"order": "simple"}, "b": {"order": "complicated"},
                         "pair_by": ["cell", "seed"], "effect": "difference",
                         "expect": "a > b"}]}]}
    _, claims = spec.parse(document)
    rows = evaluate.verdict_rows(claims, SETTINGS,
                                 {"increment_evaluations": increment_rows(curves)}, PUBLISHED)
    assert [(r["reading"], r["verdict"]) for r in rows] == [
        ("per digit, over the run", "supported"), ("whole number, at the end", "contradicted")]
    assert rows[1]["mean"] == pytest.approx(np.mean([0.55 - 0.7 - 2 * k / 100
                                                     for k in range(3)]))
    assert all(r["readings"] == "disagree: supported under 'per digit, over the run'; "
               "contradicted under 'whole number, at the end'" for r in rows)
    assert rows[0]["budget"] == "3,072 minibatches per run"
    write_csv(tmp_path / "v.csv", rows, evaluate.VERDICT_COLUMNS)
    latex = "".join(render_latex(t) for t in claims_tables(read_verdicts(tmp_path / "v.csv"),
                                                            "test"))
    assert r"simple vs complicated $\dagger$" in latex
    assert "†: the readings of the measure disagree" in claims_tables(
        read_verdicts(tmp_path / "v.csv"), "test")[2].caption


def test_a_claim_with_readings_refuses_a_measure_of_its_own():
    document = {"claims": [{
        "id": "T7", "paper": "memory", "where": "w", "summary": "s", "quote": "q",
        "readings": [{"label": "a", "measure": {"column": "val_acc"}},
                     {"label": "b", "measure": {"column": "test_acc"}}],
        "comparisons": [{"label": "x", "data": "memory_runs", "measure": {"column": "val_acc"},
                         "a": {"group": "original"}, "b": {"group": "transposed"},
                         "pair_by": ["seed"], "expect": "a > b"}]}]}
    with pytest.raises(spec.ClaimsError, match="claim T7, comparison 1: the claim's readings"):
        spec.parse(document)
