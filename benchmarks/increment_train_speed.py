"""Training speed of the increment task's models: minibatches/s and the time of a paper-length
job (5 x 10,240 minibatches, before evaluation), PyTorch's units against Keras 2's.

    python benchmarks/increment_train_speed.py                       # every (K, N) of the paper
    python benchmarks/increment_train_speed.py --tasks 10:7 --seconds 10

Per (K, N) and cell, full training steps (one-hot input, the recurrent layer, per-step read-out,
sequence cross-entropy, backward, RMSprop) on random digit sequences of the task's length (2N
steps), batch 16, one CPU thread as the jobs run. LSTM and GRU run twice, interleaved: with
PyTorch's nn.LSTM/nn.GRU (what the jobs ran before `increment.units`) and with the Keras 2
units the jobs run now (rnnrepro.increment.keras_units); the IRNN is the same in both.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from rnnrepro.cells import make_recurrent
from rnnrepro.config_types import load
from rnnrepro.increment.models import IncrementModel, sequence_loss
from rnnrepro.increment.settings import UnitSettings

ROOT = Path(__file__).resolve().parents[1]

PAPER_MINIBATCHES = 5 * 10240


# The IRNN's input weight std: config.yaml's memory.input_weight_std (the same IRNN).
IRNN_INPUT_STD = load(ROOT)["memory"]["input_weight_std"]


def keras_units() -> UnitSettings:
    """Keras 2's LSTM/GRU definitions, as config.yaml states them (increment.units)."""
    return UnitSettings(**load(ROOT)["increment"]["units"])


def steps_per_second(model: IncrementModel, base: int, digits: int, batch: int,
                     seconds: float) -> float:
    """Training steps per second over at least ``seconds`` (after 5 warm-up steps)."""
    optimizer = torch.optim.RMSprop(model.parameters(), lr=3e-4, alpha=0.9, eps=1e-7)
    gen = torch.Generator().manual_seed(0)
    inputs = torch.randint(0, base, (64, batch, 2 * digits), generator=gen)
    targets = torch.randint(0, base, (64, batch, 2 * digits), generator=gen)

    def step(i: int) -> None:
        loss = sequence_loss(model(inputs[i % 64]), targets[i % 64])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for i in range(5):
        step(i)
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step(done)
        done += 1
    return done / (time.perf_counter() - start)


def pytorch_model(cell: str, base: int, hidden: int) -> IncrementModel:
    """The model as it was before increment.units: nn.LSTM / nn.GRU with PyTorch's init."""
    model = IncrementModel("rnn", base, hidden, keras_units(), IRNN_INPUT_STD)
    model.recurrent = make_recurrent(cell, base, hidden)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["2:32", "10:7", "4:15"],
                        help="K:N pairs")
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), batch "
          f"{args.batch_size}, hidden {args.hidden}; minutes per job = "
          f"{PAPER_MINIBATCHES:,} minibatches / rate (training only)")
    print(f"{'task':>8} {'cell':>5} {'PyTorch units':>22} {'Keras 2 units':>22} {'ratio':>6}")
    for task in args.tasks:
        base, digits = (int(v) for v in task.split(":"))
        for cell in ("rnn", "lstm", "gru"):
            torch.manual_seed(0)
            keras = IncrementModel(cell, base, args.hidden, keras_units(), IRNN_INPUT_STD)
            after = steps_per_second(keras, base, digits, args.batch_size, args.seconds)
            before = after if cell == "rnn" else steps_per_second(
                pytorch_model(cell, base, args.hidden), base, digits, args.batch_size,
                args.seconds)
            cells = [f"{rate:7.1f}/s {PAPER_MINIBATCHES / rate / 60:6.1f} min"
                     for rate in (before, after)]
            print(f"{f'K{base}-N{digits}':>8} {cell:>5} {cells[0]:>22} {cells[1]:>22} "
                  f"{before / after:6.2f}", flush=True)
    print("ratio: Keras units' time per minibatch over PyTorch's (>1: slower)")


if __name__ == "__main__":
    main()
