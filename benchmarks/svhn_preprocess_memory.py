"""Peak memory of SVHN preprocessing on synthetic files of the real sizes (not a test).

Writes MATLAB v5 files shaped like train_32x32.mat (73,257 images), extra_32x32.mat
(531,131) and test_32x32.mat (26,032) to a temporary folder, runs ``rnnrepro prepare-svhn``
on them in a subprocess with the config's splits, and prints that child's peak resident memory
(``ru_maxrss`` from ``wait4``) and wall time. The temporary files (about 3.7 GB) are deleted
afterwards. The files are written by a separate child process: on Linux a child's ``ru_maxrss``
includes the parent's resident memory at fork/exec, so the measuring process stays small.

    python benchmarks/svhn_preprocess_memory.py [--tmp-dir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.io
import yaml

ROOT = Path(__file__).resolve().parents[1]
SIZES = {"train_32x32.mat": 73_257, "extra_32x32.mat": 531_131, "test_32x32.mat": 26_032}
LIMIT_GIB = 4.0


def write_mat(path: Path, count: int, seed: int) -> None:
    """X (32, 32, 3, N) uint8 in MATLAB (Fortran) order and y (N, 1) in 1..10."""
    rng = np.random.default_rng(seed)
    images = np.empty((32, 32, 3, count), dtype=np.uint8, order="F")
    for start in range(0, count, 50_000):
        stop = min(start + 50_000, count)
        images[..., start:stop] = rng.integers(0, 256, (32, 32, 3, stop - start), np.uint8)
    labels = rng.integers(1, 11, (count, 1)).astype(np.uint8)
    scipy.io.savemat(path, {"X": images, "y": labels}, format="5")


def md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 22):
            digest.update(block)
    return "md5:" + digest.hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tmp-dir", type=Path, default=None, help="where to put the files")
    parser.add_argument("--keep", action="store_true", help="keep the temporary files")
    parser.add_argument("--write-files", type=Path, help=argparse.SUPPRESS)  # child mode
    args = parser.parse_args()
    if args.write_files:
        for seed, (name, count) in enumerate(SIZES.items()):
            write_mat(args.write_files / name, count, seed)
        return 0
    config = yaml.safe_load((ROOT / "config.yaml").read_text())["data"]["svhn"]
    folder = Path(tempfile.mkdtemp(prefix="svhn-bench-", dir=args.tmp_dir))
    try:
        started = time.monotonic()
        subprocess.run([sys.executable, __file__, "--write-files", str(folder)], check=True)
        files = {name: {"checksum": md5(folder / name)} for name in SIZES}
        print(f"wrote synthetic .mat files ({sum(SIZES.values()):,} images) to {folder} in "
              f"{time.monotonic() - started:.0f} s", flush=True)
        settings = {"splits": config["splits"], "split_seed": config.get("split_seed", 0),
                    "files": files}
        command = [sys.executable, "-m", "rnnrepro", "prepare-svhn",
                   "--train", str(folder / "train_32x32.mat"),
                   "--extra", str(folder / "extra_32x32.mat"),
                   "--test", str(folder / "test_32x32.mat"),
                   "--output", str(folder / "svhn"), "--settings", json.dumps(settings)]
        started = time.monotonic()
        child = subprocess.Popen(command)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - started
        peak_kib = usage.ru_maxrss  # KiB on Linux
        if child.returncode != 0:
            print(f"prepare-svhn failed with exit code {child.returncode}", file=sys.stderr)
            return 1
        manifest = json.loads((folder / "svhn" / "manifest.json").read_text())
        sizes = {split: info["size"] for split, info in manifest["splits"].items()}
        peak_gib = peak_kib / 2**20
        print(f"prepare-svhn: splits {sizes}")
        print(f"prepare-svhn: peak RSS {peak_gib:.2f} GiB ({peak_kib / 1024:.0f} MiB), "
              f"wall time {wall:.0f} s; limit {LIMIT_GIB} GiB: "
              f"{'OK' if peak_gib < LIMIT_GIB else 'EXCEEDED'}")
        return 0 if peak_gib < LIMIT_GIB else 1
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
