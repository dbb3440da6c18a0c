"""Time one full hold-out evaluation of the increment task per cell type and evaluation path.

    python benchmarks/increment_holdout_speed.py                 # (K, N) = (2, 32), 300,000
    python benchmarks/increment_holdout_speed.py --base 10 --digits 7 --kernels compiled

Builds the hold-out set exactly as `rnnrepro increment-holdout` does (config defaults), runs one
warm-up evaluation, then reports the best of ``--repeats`` timed evaluations per cell and path
(``compiled``: the C kernel, ``torch``: the PyTorch forward pass in chunks). "share" is the
evaluation's rate of its own arithmetic (the model's matrix products: one-hot input, recurrent
and read-out, 2 x in x out FLOPs per number and step) over the machine's matrix-product rate
(a 2,048 x 2,048 float32 product on the same threads, measured here): how much of the machine
the evaluation uses. "rescored": numbers with a near tie that the kernel's path re-scored in
PyTorch (their time included).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from rnnrepro.allocator import reuse_freed_memory
from rnnrepro.config_types import load
from rnnrepro.execution import pick_device
from rnnrepro.increment.evaluation import HoldoutEvaluator
from rnnrepro.increment.holdout import build_holdout
from rnnrepro.increment.models import IncrementModel
from rnnrepro.increment.sequences import make_permutation
from rnnrepro.increment.settings import WEIGHT_BLOCKS, UnitSettings


def matmul_rate(size: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of the best of ``repeats`` float32 (size x size) products."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * size ** 3 / best / 1e9


def _timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def evaluation_gflop(cell: str, base: int, hidden: int, numbers: int, steps: int) -> float:
    """The model's matrix-product FLOPs of one evaluation (see the module doc)."""
    rows = WEIGHT_BLOCKS[cell] * hidden
    per_step = 2 * (base * rows + hidden * rows + hidden * base)
    return per_step * steps * numbers / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=int, default=2)
    parser.add_argument("--digits", type=int, default=32)
    parser.add_argument("--size", type=int, default=300_000, help="hold-out size")
    parser.add_argument("--eval-batch-size", type=int, default=50_000,
                        help="the PyTorch path's chunk (on the CPU capped at CPU_CHUNK)")
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--cells", nargs="+", default=["rnn", "lstm", "gru"])
    parser.add_argument("--kernels", nargs="+", default=["compiled", "torch"],
                        choices=["compiled", "torch"])
    parser.add_argument("--complicated", action="store_true", help="permuted digit order")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (0: torch's default); jobs run with 1")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    reuse_freed_memory()  # as the training command does
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    config = load(Path(__file__).resolve().parents[1])
    units = UnitSettings(**config["increment"]["units"])
    holdout = build_holdout(args.base, args.digits, args.size, seed=7,
                            interesting_probability=0.1)
    permutation = make_permutation(args.base, args.digits, 2018) if args.complicated else None
    evaluators = {kernel: HoldoutEvaluator(holdout, permutation, device, args.eval_batch_size,
                                           kernel=kernel) for kernel in args.kernels}
    rate = matmul_rate()
    steps = 2 * args.digits
    print(f"K={args.base} N={args.digits}: {len(holdout.numbers):,} hold-out numbers "
          f"({'all' if holdout.exhaustive else 'drawn'}), {steps} steps, device {device}, "
          f"{torch.get_num_threads()} threads; machine's matrix-product rate "
          f"{rate:.0f} GFLOP/s (2048 x 2048 float32)")
    # CPU seconds of this process too: on a shared machine they move less than wall time.
    print(f"{'cell':<6} {'path':<9} {'seconds':>8} {'cpu s':>7} {'numbers/s':>11} "
          f"{'GFLOP':>6} {'GFLOP/s':>8} {'share':>6} {'digit_acc':>10} {'number_acc':>10} "
          f"{'rescored':>8}")
    for cell in args.cells:
        torch.manual_seed(0)
        model = IncrementModel(cell, args.base, args.hidden, units,
                               config["memory"]["input_weight_std"]).to(device)
        with torch.no_grad():  # a model that predicts something other than a constant
            for parameter in model.parameters():
                parameter.add_(torch.randn_like(parameter), alpha=0.5)
        gflop = evaluation_gflop(cell, args.base, args.hidden, len(holdout.numbers), steps)
        for evaluator in evaluators.values():
            evaluator(model)  # warm-up: the kernel's build, allocator, thread pool
            times = []
            for _ in range(args.repeats):
                if device.type == "cuda":
                    torch.cuda.synchronize()
                start, cpu_start = time.perf_counter(), time.process_time()
                accuracy = evaluator(model)
                times.append((time.perf_counter() - start, time.process_time() - cpu_start))
            best, cpu = min(times)
            print(f"{cell:<6} {evaluator.used:<9} {best:>8.3f} {cpu:>7.2f} "
                  f"{len(evaluator) / best:>11,.0f} {gflop:>6.1f} {gflop / best:>8.1f} "
                  f"{gflop / best / rate:>6.1%} {accuracy.digit:>10.6f} {accuracy.number:>10.6f} "
                  f"{evaluator.rescored if evaluator.used == 'compiled' else '-':>8}")


if __name__ == "__main__":
    main()
