"""The memory paper's Table 2 (latency), Table 3 (every run) and Table 4 (best per group),
formatted from the memory summary's ``variants.csv`` and ``groups.csv`` (which hold every number
printed here except the published ones and the differences Δ = reproduced − published)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rnnrepro.aggregate import Summary, from_columns, summarize
from rnnrepro.files import read_csv_columns
from rnnrepro.memory.runs import from_paper_name, lr_label
from rnnrepro.memory.summary import GROUP_COLUMNS, VARIANT_COLUMNS, VARIANT_METRICS
from rnnrepro.paper.layout import MIDRULE, Cell, Row, Table, cells
from rnnrepro.paper.stats import (
    MISSING,
    count,
    difference,
    fixed,
    mean_std,
    shortest,
    signed,
)

# The reproduced columns of Tables 3 and 4 (between n and Δ vacc).
METRICS = ("epoch", "acc", "val_acc", "test_acc", "loss", "val_loss")
PUBLISHED_METRICS = ("epoch", "acc", "val_acc", "loss", "val_loss")
# The tables' headers: the paper's names of the columns.
HEADERS = {"epoch": "epoch", "acc": "acc", "val_acc": "vacc", "test_acc": "test acc",
           "loss": "loss", "val_loss": "vloss"}
ACC_DECIMALS = 3
LATENCY_DECIMALS = 2
VALIDATION_NOTE = (
    "The paper's vacc and vloss were measured on the MNIST test set (the authors' code passed it "
    "as validation data and picked the best epoch by it); ours on a held-out validation split "
    "cut from the training images, which also picks the best epoch; test acc is our test-set "
    "accuracy at that epoch, never used for selection.")

Key = tuple[str, str]   # (representation, learning-rate label)


@dataclass(frozen=True)
class Run:
    """One (representation, learning rate) variant summarized over its seeds (a variants.csv
    row)."""

    representation: str
    lr: str
    group: str
    label: str
    best: bool
    metrics: dict[str, Summary]


def read_variants(path: str) -> dict[Key, Run]:
    """``variants.csv`` of the memory summary, one :class:`Run` per row."""
    frame = read_csv_columns(path, VARIANT_COLUMNS, rerun="memory_summary")
    runs = {}
    for row in frame.to_dict("records"):
        lr = lr_label(row["learning_rate"])
        runs[(row["representation"], lr)] = Run(
            row["representation"], lr, str(row["group"]), str(row["variant"]), bool(row["best"]),
            {m: from_columns(row, m, row["n"]) for m in VARIANT_METRICS})
    return runs


def read_groups(path: str) -> dict[str, Summary]:
    """``groups.csv`` of the memory summary: each group's latency over all its runs."""
    frame = read_csv_columns(path, GROUP_COLUMNS, rerun="memory_summary")
    return {str(row["group"]): from_columns(row, "latency", row["n"])
            for row in frame.to_dict("records")}


def _sorted_runs(runs: Sequence[Run]) -> list[Run]:
    """By representation, then learning rate from large to small (the paper's 3e-05 first)."""
    return sorted(runs, key=lambda r: (r.representation, -float(r.lr)))


def _reproduced_cells(run: Run | None, row: Mapping[str, Any] | None) -> list[Cell]:
    """n, the run's METRICS (or — when not run) and Δ vacc against the paper's row."""
    vacc = run.metrics["val_acc"] if run else None
    metrics = ([Cell(MISSING) for _ in METRICS] if run is None else
               [Cell(mean_std(run.metrics[m], _decimals(m, run.metrics[m])))
                for m in METRICS])
    delta = signed(difference(vacc, float(row["val_acc"]) if row else None), ACC_DECIMALS)
    return [Cell(count(vacc)), *metrics, Cell(delta)]


def _decimals(metric: str, summary: Summary | None) -> int:
    if metric == "epoch":
        return 0 if summary is None or summary.n == 1 else 1
    return ACC_DECIMALS


def _published_cells(row: Mapping[str, Any] | None) -> list[Cell]:
    if row is None:
        return [Cell(MISSING) for _ in PUBLISHED_METRICS]
    return [Cell(str(int(row["epoch"]))),
            *[Cell(fixed(float(row[m]), ACC_DECIMALS)) for m in PUBLISHED_METRICS[1:]]]


def _group_order(published: Mapping[str, Any], groups: Sequence[str]) -> list[str]:
    """Groups in the paper's order (Table 2 rows, then Table 4 rows), then any others."""
    order = [r["model"] for r in published["memory"]["latency"]["rows"]]
    order += [r["model"] for r in published["memory"]["best"]["rows"] if r["model"] not in order]
    return order + sorted(set(groups) - set(order))


def latency_table(published: Mapping[str, Any], runs: Mapping[Key, Run],
                  groups: Mapping[str, Summary], preset: str) -> Table:
    """Table 2: the paper's latency values beside ours, per group, with per-group means."""
    paper = {r["model"]: [float(v) for v in r["values"]]
             for r in published["memory"]["latency"]["rows"]}
    header = [[Cell(""), Cell("Published", span=2), Cell(f"Reproduced ({preset})", span=3),
               Cell("")],
              cells("Model", "latency", "n", "variant", "latency", "n", "Δ")]
    body: list[Row | str] = []
    for group in _group_order(published, list(groups)):
        values = paper.get(group, [])
        ours = _sorted_runs([r for r in runs.values() if r.group == group])
        if not values and not ours:
            continue
        if body:
            body.append(MIDRULE)
        for i in range(max(len(values), len(ours), 1)):
            pub = (shortest(values[i]) if i < len(values)
                   else (MISSING if not values and i == 0 else ""))
            run = ours[i] if i < len(ours) else None
            summary = run.metrics["latency"] if run else None
            body.append([Cell(group if i == 0 else ""), Cell(pub), Cell(""),
                         Cell(run.label if run else (MISSING if i == 0 else "")),
                         Cell(mean_std(summary, LATENCY_DECIMALS) if run else
                              (MISSING if i == 0 else "")),
                         Cell(count(summary) if run else ""), Cell("")])
        pub_summary = summarize(values)
        our_summary = groups.get(group)
        body.append([Cell("mean", italic=True), Cell(mean_std(pub_summary, LATENCY_DECIMALS)),
                     Cell(count(pub_summary)), Cell("all runs", italic=True),
                     Cell(mean_std(our_summary, LATENCY_DECIMALS)), Cell(count(our_summary)),
                     Cell(signed(difference(our_summary, pub_summary.mean if pub_summary
                                            else None), LATENCY_DECIMALS))])
    return Table(
        macro="rnnTableMemoryLatency", label="tab:memory-latency",
        title="Memory Table 2: latency",
        caption=("Memory-capacity Table 2: latency, the mean number of steps a model needs "
                 "until its prediction stops changing (the paper's caption: \u201caverage number "
                 "of counts necessary for the model to stop changing the answer\u201d; its text "
                 "calls this Table 4). One value per run; the paper does not say which run each "
                 "of its values belongs to, so only the group means (mean ± sample std over n "
                 "runs) are compared, Δ = reproduced − published mean. Our variants: "
                 "representation (perm k = the paper's random permute k) @ learning rate; a "
                 f"variant's n counts its seeds. Reproduced with preset `{preset}` on the test "
                 "set, with the weights of the best epoch by validation accuracy. The 784-step "
                 "groups are ours only (— = not in the paper)."),
        columns="lrrlrrr", header=header, body=body, wide=True)


def runs_table(published: Mapping[str, Any], runs: Mapping[Key, Run], preset: str) -> Table:
    """Table 3: every run's best epoch, published beside reproduced, matched by run name."""
    paper_rows = published["memory"]["runs"]["rows"]
    keys = [from_paper_name(r["model"]) for r in paper_rows]
    extra = sorted((k for k in runs if k not in keys),
                   key=lambda k: -runs[k].metrics["val_acc"].mean)
    header = [[Cell(""), Cell(""), Cell("Published (test set)", span=5),
               Cell(f"Reproduced ({preset}, validation split)", span=7), Cell("")],
              cells("Representation", "lr", *(HEADERS[m] for m in PUBLISHED_METRICS), "n",
                    *(HEADERS[m] for m in METRICS), "Δ vacc")]
    body: list[Row | str] = []
    by_key = dict(zip(keys, paper_rows, strict=True))
    for key in [*keys, *extra]:
        row, run = by_key.get(key), runs.get(key)
        body.append([Cell(key[0]), Cell(key[1]), *_published_cells(row),
                     *_reproduced_cells(run, row)])
    return Table(
        macro="rnnTableMemoryRuns", label="tab:memory-runs",
        title="Memory Table 3: top score of each run",
        caption=("Memory-capacity Table 3: the best epoch of each run (batch 16, 128 hidden "
                 "units), in the paper's order (by its vacc); perm k = the paper's random "
                 "permute k. acc and loss are running means over the epoch's training batches. "
                 + VALIDATION_NOTE + f" Reproduced with preset `{preset}`: mean ± sample std "
                 "over n seeds when n > 1; — = not run. Δ vacc = reproduced − published vacc."),
        columns="ll" + "r" * 13, header=header, body=body, wide=True, size="footnotesize",
        colsep="3pt", stack_pm=True)


def best_table(published: Mapping[str, Any], runs: Mapping[Key, Run], preset: str) -> Table:
    """Table 4: the best variant of each group (variants.csv's ``best``), published beside
    reproduced."""
    best = {run.group: run for run in runs.values() if run.best}
    paper = {r["model"]: r for r in published["memory"]["best"]["rows"]}
    header = [[Cell(""), Cell("Published (test set)", span=5),
               Cell(f"Reproduced ({preset}, validation split)", span=7), Cell("")],
              cells("Group\nbest run", *(HEADERS[m] for m in PUBLISHED_METRICS), "n",
                    *(HEADERS[m] for m in METRICS), "Δ vacc")]
    body: list[Row | str] = []
    for group in [*paper, *sorted(set(best) - set(paper))]:
        row, run = paper.get(group), best.get(group)
        # The group (its random-permute suffix on a line of its own) over its best run.
        name = group.replace(" random", "\nrandom") + "\n" + (run.label if run else MISSING)
        body.append([Cell(name), *_published_cells(row), *_reproduced_cells(run, row)])
    return Table(
        macro="rnnTableMemoryBest", label="tab:memory-best",
        title="Memory Table 4: best run per group",
        caption=("Memory-capacity Table 4: the best run of each group (the paper's caption: "
                 "\u201cbest models for each option\u201d; its text calls this Table 2). Ours: "
                 "the variant (representation@learning rate, under the group's name) with the "
                 "highest mean validation accuracy over its n seeds, shown as mean ± sample std "
                 "when n > 1. "
                 + VALIDATION_NOTE + f" Reproduced with preset `{preset}`; — = not run. "
                 "Δ vacc = reproduced − published vacc."),
        columns="l" + "r" * 13, header=header, body=body, wide=True,
        size="footnotesize", colsep="3pt", stack_pm=True)
