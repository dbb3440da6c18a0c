"""The compiled hold-out kernel (``holdout_kernel.c``): built once per machine, loaded with ctypes.

The C source is compiled with the machine's C compiler (``$CC``, else ``cc``) into a cache
folder (``$RNNREPRO_KERNEL_CACHE``, else ``$XDG_CACHE_HOME/rnnrepro`` or ``~/.cache/rnnrepro``),
named by a hash of the source, the flags, the compiler's version and the CPU's feature flags, so
cluster nodes of different kinds sharing a home folder never load each other's build. Where no
compiler is found or the build fails, :func:`load` returns None and says why in one line; the
evaluation then runs in PyTorch (:mod:`rnnrepro.increment.evaluation`).
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rnnrepro.increment.keras_units import KerasRecurrent

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("holdout_kernel.c")
FLAGS = ("-O3", "-march=native", "-fno-math-errno", "-fno-trapping-math", "-shared", "-fPIC")
CELLS = {"rnn": 0, "gru": 1, "lstm": 2}
MAX_HIDDEN = 1024  # the kernel's own bound (its state lives on the stack)


@dataclass(frozen=True)
class Weights:
    """One model's parameters in the kernel's layout (float32, row-major (in, out))."""

    cell: int
    hard: bool
    after: bool
    table: np.ndarray    # (K, G): input weights + biases, one row per digit
    recurrent: np.ndarray  # (H, G)
    bias_hn: np.ndarray  # (H,) the GRU's recurrent bias inside the reset (zeros otherwise)
    w_out: np.ndarray    # (H, K)
    b_out: np.ndarray    # (K,)


def _cache_dir() -> Path:
    if "RNNREPRO_KERNEL_CACHE" in os.environ:
        return Path(os.environ["RNNREPRO_KERNEL_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rnnrepro"


def _cpu_flags() -> str:
    """The CPU's feature flags (Linux), so a build made for one CPU kind is not loaded on
    another; the machine name elsewhere."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line
    except OSError:
        pass
    return platform.processor()


def _build(compiler: str) -> Path:
    """Compile the kernel (or find it in the cache) and return the shared library's path."""
    version = subprocess.run([compiler, "--version"], capture_output=True, text=True,
                             timeout=60).stdout
    key = hashlib.sha256("\0".join([SOURCE.read_text(), " ".join(FLAGS), version,
                                    platform.machine(), _cpu_flags()]).encode()).hexdigest()
    target = _cache_dir() / f"holdout_kernel-{key[:16]}.so"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        built = Path(tmp) / target.name
        result = subprocess.run([compiler, *FLAGS, "-o", str(built), str(SOURCE)],
                                capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            first = (result.stderr.strip().splitlines() or ["no message"])[0]
            raise RuntimeError(f"{compiler} failed on {SOURCE.name}: {first}")
        os.replace(built, target)  # atomic: a job starting beside this one sees all or nothing
    return target


@functools.lru_cache(maxsize=1)
def load() -> ctypes.CDLL | None:
    """The kernel's library, built on first use; None (with one logged line) where it cannot
    be built or loaded here."""
    compiler = shutil.which(os.environ.get("CC", "cc"))
    if compiler is None:
        log.warning("increment evaluation: no C compiler (%s) on PATH; evaluating in PyTorch, "
                    "about 10x slower (install gcc, or set CC)", os.environ.get("CC", "cc"))
        return None
    try:
        library = ctypes.CDLL(str(_build(compiler)))
    except (OSError, RuntimeError, subprocess.SubprocessError) as err:
        log.warning("increment evaluation: compiled kernel unavailable (%s); evaluating in "
                    "PyTorch, about 10x slower", err)
        return None
    pointer = ctypes.c_void_p
    library.predict.argtypes = [pointer, ctypes.c_int64, *[ctypes.c_int] * 6, *[pointer] * 7]
    library.predict.restype = ctypes.c_int
    return library


def _array(tensor: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(tensor.detach().to("cpu", torch.float32).numpy())


def weights_of(model: torch.nn.Module) -> Weights | None:
    """The kernel's view of an :class:`~rnnrepro.increment.models.IncrementModel`; None for
    any other model (the evaluation then runs it in PyTorch)."""
    recurrent = getattr(model, "recurrent", None)
    readout = getattr(model, "readout", None)
    if not isinstance(readout, torch.nn.Linear) or readout.bias is None:
        return None
    if isinstance(recurrent, KerasRecurrent):
        w_ih, w_hh, bias = recurrent.recurrence_weights()
        after = recurrent.reset_after
        bias_hn = recurrent.bias_hn_l0 if after else torch.zeros(recurrent.hidden_size)
        cell, hard = CELLS[recurrent.cell], recurrent.units.gate_activation == "hard_sigmoid"
    elif (isinstance(recurrent, torch.nn.RNN) and recurrent.nonlinearity == "relu"
          and recurrent.num_layers == 1 and not recurrent.bidirectional and recurrent.bias):
        w_ih, w_hh = recurrent.weight_ih_l0, recurrent.weight_hh_l0
        bias = recurrent.bias_ih_l0 + recurrent.bias_hh_l0
        bias_hn, cell, hard, after = torch.zeros(recurrent.hidden_size), 0, False, False
    else:
        return None
    if w_hh.shape[1] > MAX_HIDDEN:
        return None
    return Weights(cell, hard, after, _array(w_ih.T + bias), _array(w_hh.T), _array(bias_hn),
                   _array(readout.weight.T), _array(readout.bias))


def predict(library: ctypes.CDLL, weights: Weights, digits: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """Predicted digit (count, steps) uint8 of every step, for input ``digits`` (count, steps)
    uint8, each below the model's K; and each prediction's margin over the runner-up logit,
    relative to max(1, |best logit|) (float32, same shape)."""
    digits = np.ascontiguousarray(digits, dtype=np.uint8)
    predictions = np.empty_like(digits)
    margins = np.empty(digits.shape, dtype=np.float32)
    base, hidden = weights.table.shape[0], weights.recurrent.shape[0]
    status = library.predict(
        digits.ctypes.data, len(digits), digits.shape[1], base, hidden, weights.cell,
        int(weights.hard), int(weights.after), weights.table.ctypes.data,
        weights.recurrent.ctypes.data, weights.bias_hn.ctypes.data, weights.w_out.ctypes.data,
        weights.b_out.ctypes.data, predictions.ctypes.data, margins.ctypes.data)
    if status != 0:
        raise ValueError(f"hold-out kernel refused K={base}, hidden={hidden} "
                         f"(it takes 2 <= K <= 255 and 1 <= hidden <= {MAX_HIDDEN})")
    return predictions, margins
