"""Time one full hold-out evaluation of the increment task per cell type.

    python benchmarks/increment_holdout_speed.py                 # (K, N) = (2, 32), 300,000
    python benchmarks/increment_holdout_speed.py --base 10 --digits 7 --threads 1

Builds the hold-out set exactly as `rnnrepro increment-holdout` does (config defaults), runs one
warm-up evaluation, then reports the best of ``--repeats`` timed evaluations per cell.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from rnnrepro.config_types import load
from rnnrepro.increment.evaluation import HoldoutEvaluator
from rnnrepro.increment.holdout import build_holdout
from rnnrepro.increment.models import IncrementModel
from rnnrepro.increment.sequences import make_permutation
from rnnrepro.increment.settings import UnitSettings
from rnnrepro.runtime import pick_device


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=int, default=2)
    parser.add_argument("--digits", type=int, default=32)
    parser.add_argument("--size", type=int, default=300_000, help="hold-out size")
    parser.add_argument("--eval-batch-size", type=int, default=50_000)
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--cells", nargs="+", default=["rnn", "lstm", "gru"])
    parser.add_argument("--complicated", action="store_true", help="permuted digit order")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (0: torch's default); jobs run with 1")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    start = time.perf_counter()
    holdout = build_holdout(args.base, args.digits, args.size, seed=7,
                            interesting_probability=0.1)
    permutation = make_permutation(args.base, args.digits, 2018) if args.complicated else None
    evaluator = HoldoutEvaluator(holdout, permutation, device, args.eval_batch_size)
    setup = time.perf_counter() - start
    print(f"K={args.base} N={args.digits}: {len(evaluator):,} hold-out numbers "
          f"({'all' if holdout.exhaustive else 'drawn'}), {2 * args.digits} steps, "
          f"device {device}, {torch.get_num_threads()} threads, eval batch "
          f"{args.eval_batch_size:,}; building the set took {setup:.2f} s")
    # CPU seconds of this process too: on a shared machine they move less than wall time.
    print(f"{'cell':<6} {'seconds':>9} {'cpu s':>7} {'numbers/s':>12} {'digit_acc':>10}")
    for cell in args.cells:
        torch.manual_seed(0)
        config = load(Path(__file__).resolve().parents[1])
        model = IncrementModel(cell, args.base, args.hidden,
                               UnitSettings(**config["increment"]["units"]),
                               config["memory"]["input_weight_std"]).to(device)
        evaluator(model)  # warm-up: allocator, thread pool, kernels
        times = []
        for _ in range(args.repeats):
            if device.type == "cuda":
                torch.cuda.synchronize()
            start, cpu_start = time.perf_counter(), time.process_time()
            accuracy = evaluator(model)
            times.append((time.perf_counter() - start, time.process_time() - cpu_start))
        best, cpu = min(times)
        print(f"{cell:<6} {best:>9.3f} {cpu:>7.2f} {len(evaluator) / best:>12,.0f} "
              f"{accuracy.digit:>10.4f}")


if __name__ == "__main__":
    main()
