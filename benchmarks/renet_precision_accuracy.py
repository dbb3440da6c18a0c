"""The accuracy effect of bf16-mixed: ReNet runs of the same config in fp32 and in bf16-mixed,
several seeds each, side by side.

    # in two clones, the same preset and seeds, one precision each, e.g. the cpu preset's model:
    snakemake --cores 1 --configfile workflow/presets/cpu.yaml --until renet_train \\
        --config renet='{seeds: [0, 1, 2], training: {precision: bf16-mixed}}'
    python benchmarks/renet_precision_accuracy.py CLONE_FP32/results CLONE_BF16/results

For each results folder it reads every ``renet/<dataset>/seed<s>/metrics.json`` and prints, per
run, the best epoch and its validation and test error, then per precision the mean, the sample
standard deviation and the range over seeds, and the difference of the means (second - first)
with its 95 % confidence interval (Welch's t, unequal variances). The second precision shifts
the accuracy "within the seed spread" when its mean lies inside the range of the first's seeds
(min-max), "beyond" otherwise (the rule docs/renet-mnist.md uses to choose the precision); the
interval says whether the shift is distinguishable from seed noise at all.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

METRICS = ("val_error", "test_error")


def runs(results: Path, dataset: str) -> list[dict]:
    """The metrics of every finished run of ``dataset`` below ``results``, by seed."""
    found = [json.loads(path.read_text())
             for path in sorted((results / "renet" / dataset).glob("seed*/metrics.json"))]
    if not found:
        raise SystemExit(f"{results}/renet/{dataset}: no seed*/metrics.json; finish the runs "
                         "first (snakemake ... --until renet_train)")
    precisions = {run["precision_used"] for run in found}
    if len(precisions) != 1:
        raise SystemExit(f"{results}: runs of several precisions ({sorted(precisions)})")
    return sorted(found, key=lambda run: run["seed"])


def welch_interval(b: list[float], a: list[float]) -> tuple[float, float]:
    """95 % confidence interval of mean(b) - mean(a), Welch's t (unequal variances)."""
    from scipy import stats

    return tuple(stats.ttest_ind(b, a, equal_var=False).confidence_interval(0.95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs=2, type=Path,
                        help="two results folders: fp32 runs, then bf16-mixed runs")
    parser.add_argument("--dataset", default="mnist")
    args = parser.parse_args()
    groups = {}
    for results in args.results:
        found = runs(results, args.dataset)
        groups[found[0]["precision_used"]] = found
    print(f"{'precision':11} {'seed':>4} {'epochs':>6} {'best':>4} {'val error %':>11} "
          f"{'test error %':>12} {'wall s':>7}")
    for precision, found in groups.items():
        for run in found:
            print(f"{precision:11} {run['seed']:4d} {run['epochs_run']:6d} "
                  f"{run['best_epoch']:4d} {100 * run['val_error']:11.2f} "
                  f"{100 * run['test_error']:12.2f} {run['wall_time']:7.0f}")
    print()
    for precision, found in groups.items():
        for metric in METRICS:
            values = [100 * run[metric] for run in found]
            sd = statistics.stdev(values) if len(values) > 1 else float("nan")
            print(f"{precision:11} {metric:10} mean {statistics.mean(values):.3f} % "
                  f"sd {sd:.3f} range {min(values):.2f}-{max(values):.2f} (n = {len(values)})")
    if len(groups) == 2:
        first, second = groups
        for metric in METRICS:
            a = [100 * run[metric] for run in groups[first]]
            b = [100 * run[metric] for run in groups[second]]
            low, high = welch_interval(b, a)
            mean = statistics.mean(b)
            verdict = "within" if min(a) <= mean <= max(a) else "beyond"
            print(f"{metric}: {second} - {first} = {mean - statistics.mean(a):+.3f} points, "
                  f"95 % CI [{low:+.3f}, {high:+.3f}]; {second}'s mean {mean:.3f} % is "
                  f"{verdict} the seed spread of {first} ({min(a):.2f}-{max(a):.2f} %)")


if __name__ == "__main__":
    main()
