"""Training speed of the memory-capacity IRNN: samples/s for 28-step and 784-step inputs.

    python benchmarks/memory_speed.py [--seconds 10] [--batch-size 16] [--device auto]

Each measurement runs full training steps (forward, cross-entropy on the last output,
backward, RMSprop) on random data of the right shape, after a warm-up, twice: through the
model as training runs it (on the CPU: rnnrepro.memory.relu_recurrence, a hand-written
backward pass) and through ATen's RNN kernel with the same weights (nn.RNN, what training used
before), and prints both rates and their ratio.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from rnnrepro.config_types import load
from rnnrepro.execution import pick_device
from rnnrepro.memory.irnn import IRNNClassifier
from rnnrepro.memory.settings import MemorySettings
from rnnrepro.memory.settings import run_settings as memory_run_settings
from rnnrepro.memory.train import rmsprop

ROOT = Path(__file__).resolve().parents[1]

SHAPES = {"28 steps x 28 features": (28, 28), "784 steps x 1 feature": (784, 1)}


def aten_logits(model: IRNNClassifier, x: torch.Tensor) -> torch.Tensor:
    """The model's logits through ATen's RNN kernel (nn.RNN), the same weights."""
    _, last = model.rnn(x)
    return model.output(last[-1])


def measure(steps: int, features: int, batch_size: int, seconds: float,
            device: torch.device, aten: bool) -> float:
    """Training samples per second (through ATen's RNN kernel when ``aten``)."""
    torch.manual_seed(0)
    config = load(ROOT)
    settings = MemorySettings.from_parts(memory_run_settings(config, "original"),
                                        {"eval_batch_size": 1})
    model = IRNNClassifier(features, settings.hidden_size, settings.input_weight_std).to(device)
    optimizer = rmsprop(model, 3e-5, settings.rmsprop)
    x = torch.rand(64 * batch_size, steps, features, device=device)
    y = torch.randint(0, 10, (64 * batch_size,), device=device)
    forward = (lambda xb: aten_logits(model, xb)) if aten else model

    def step(i: int) -> None:
        sl = slice((i % 64) * batch_size, (i % 64 + 1) * batch_size)
        loss = F.cross_entropy(forward(x[sl]), y[sl])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for i in range(3):
        step(i)
    if device.type == "cuda":
        torch.cuda.synchronize()
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step(done)
        done += 1
    if device.type == "cuda":
        torch.cuda.synchronize()
    return done * batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    print(f"device {device}, batch {args.batch_size}, {torch.get_num_threads()} thread(s), "
          f"torch {torch.__version__}")
    for label, (steps, features) in SHAPES.items():
        rate = measure(steps, features, args.batch_size, args.seconds, device, aten=False)
        aten = measure(steps, features, args.batch_size, args.seconds, device, aten=True)
        print(f"{label:>24}: {rate:9.1f} training samples/s "
              f"({50000 / rate / 60:5.1f} min per 50,000-image epoch); ATen nn.RNN kernel "
              f"{aten:9.1f}/s; ratio {rate / aten:.2f}")


if __name__ == "__main__":
    main()
