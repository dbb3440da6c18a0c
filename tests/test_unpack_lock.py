"""One `rnnrepro results unpack` at a time per results folder (``results/.unpack.lock``, taken
with ``fcntl.flock``): a second unpack while one runs is refused in one line naming the folder
and the holder's pid, the first goes on undisturbed; a killed unpack's lock is dropped by the
kernel and its staging folder cleaned by the next unpack. Real processes, started together."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from conftest import QUICK, REPO
from rnnrepro.cli import main
from rnnrepro.config_types import load
from rnnrepro.results import archive, unpacking
from test_results_archive import pack_quick

fcntl = pytest.importorskip("fcntl")

# An unpack in a process of its own: imports done, it says it is ready, waits for the go file,
# then runs `rnnrepro results unpack`, holding the lock (a wait before staging, or once the
# staging folder holds a folder) until the other unpack of its round has exited, or HOLD
# seconds: the other, released at the same moment, tries to take the lock meanwhile whatever
# the scheduling. The trainer code's digests (only compared after the import, for a warning;
# half the CPU of an unpack) are stubbed out.
WORKER = r"""
import os, sys, time
import snakemake.utils, yte
import rnnrepro.config_types, rnnrepro.results.commands, rnnrepro.results.training
from rnnrepro.cli import main
from rnnrepro.results import code, unpacking

ready, go, exited, other, where, hold, *argv = sys.argv[1:]
code.trainer_digests = lambda: {}
real_stage, real_stream = unpacking.stage, unpacking._stream

def hold_lock():
    deadline = time.monotonic() + float(hold)
    while time.monotonic() < deadline and not os.path.exists(other):
        time.sleep(0.005)

def stage(*args, **kwargs):
    hold_lock()
    return real_stage(*args, **kwargs)

def stream(archive, folder, root):
    (folder / "memory").mkdir()
    hold_lock()
    return real_stream(archive, folder, root)

if where == "stage":
    unpacking.stage = stage
else:
    unpacking._stream = stream
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.002)
code = main(argv)
open(exited, "w").close()
sys.exit(code)
"""
HOLD = 20
ERROR = "rnnrepro results unpack: error: "


@pytest.fixture(scope="module")
def quick_archive(tmp_path_factory) -> Path:
    return pack_quick(tmp_path_factory.mktemp("archive"), load(REPO, [REPO / QUICK]))


def unpack_args(path: Path, results: Path) -> list[str]:
    return ["results", "unpack", str(path), "--root", str(REPO), "--results-dir", str(results),
            "--configfile", str(REPO / QUICK)]


def start(folder: Path, path: Path, results: Path, name: str, other: str,
          where: str = "stage", hold: float = HOLD) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WORKER, str(folder / f"{name}.ready"),
                             str(folder / "go"), str(folder / f"{name}.exited"),
                             str(folder / f"{other}.exited"), where, str(hold),
                             *unpack_args(path, results)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_ready(folder: Path, procs: list[subprocess.Popen], names: list[str]) -> None:
    deadline = time.monotonic() + 120
    while not all((folder / f"{name}.ready").exists() for name in names):
        for proc in procs:
            assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the unpacks did not start"
        time.sleep(0.01)


def assert_complete(path: Path, results: Path) -> None:
    """Every member the archive's manifest lists is imported with its sha256; nothing of the
    unpack (staging folder, lock file) is left."""
    with tarfile.open(path) as tar:
        handle = tar.extractfile("manifest.json")
        assert handle is not None
        manifest = json.load(handle)
    files = {name: digest for name, digest in manifest["files"].items()
             if name != archive.CONFIG}
    assert files
    for name, digest in files.items():
        data = (results / "imported" / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest, name
    assert archive.read_record(results)["files"].keys() >= files.keys()
    assert not (results / unpacking.STAGING).exists()
    assert not (results / unpacking.LOCK).exists()


def test_a_second_unpack_while_the_lock_is_held_is_refused(tmp_path, capsys, quick_archive):
    results = tmp_path / "results"
    # What a killed unpack leaves: its staging folder and the lock file (with its pid).
    (results / unpacking.STAGING / "memory").mkdir(parents=True)
    (results / unpacking.STAGING / "memory" / "half.csv").write_text("epoch\n")
    fd = os.open(results / unpacking.LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, b"4242\n")
        before = sorted(p.relative_to(results) for p in results.rglob("*"))
        assert main(unpack_args(quick_archive, results)) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(ERROR), err
        assert f"{results}: another `rnnrepro results unpack` (pid 4242) is unpacking" in err
        assert sorted(p.relative_to(results) for p in results.rglob("*")) == before
    finally:
        os.close(fd)    # as the kernel does for a killed holder; the file stays
    assert main(unpack_args(quick_archive, results)) == 0
    assert_complete(quick_archive, results)


def test_the_lock_of_a_killed_unpack_is_dropped_and_its_staging_cleaned(tmp_path,
                                                                        quick_archive):
    results = tmp_path / "results"
    proc = start(tmp_path, quick_archive, results, "killed", "none", where="stream", hold=60)
    try:
        wait_ready(tmp_path, [proc], ["killed"])
        (tmp_path / "go").touch()
        deadline = time.monotonic() + 60
        while not (results / unpacking.STAGING / "memory").exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.01)
        assert (results / unpacking.LOCK).read_text() == f"{proc.pid}\n"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    assert (results / unpacking.STAGING).exists() and (results / unpacking.LOCK).exists()
    assert main(unpack_args(quick_archive, results)) == 0
    assert_complete(quick_archive, results)


def test_without_fcntl_unpack_goes_on_unlocked(tmp_path, monkeypatch, caplog, quick_archive):
    monkeypatch.setitem(sys.modules, "fcntl", None)     # `import fcntl` fails, as off POSIX
    results = tmp_path / "results"
    with caplog.at_level(logging.DEBUG, logger="rnnrepro"), unpacking.locked(results):
        assert not (results / unpacking.LOCK).exists()
        unpacking.unpack(unpacking.stage(quick_archive, results, REPO), results)
    assert "without a lock" in caplog.text
    assert_complete(quick_archive, results)


@pytest.mark.slow  # 20 rounds of two processes: about 15 s
def test_two_unpacks_started_together_one_runs_the_other_is_refused(tmp_path, quick_archive):
    """20 rounds, each two unpack processes released at the same moment into a fresh results
    folder: one imports everything, the other exits 2 with one line, never a traceback. (The
    next rounds' processes start while a round runs: each waits for its own round's go. The
    winner keeps the lock until the other has exited: were the lock broken, both would
    import, after HOLD seconds.)"""

    def launch(round_: int) -> tuple[Path, list[subprocess.Popen]]:
        folder = tmp_path / f"round{round_}"
        folder.mkdir()
        return folder, [start(folder, quick_archive, folder / "results", name, other)
                        for name, other in (("a", "b"), ("b", "a"))]

    rounds, ahead, pids_named = 20, 2, 0
    launched = [launch(round_) for round_ in range(ahead)]
    try:
        for round_ in range(rounds):
            folder, procs = launched[round_]
            results = folder / "results"
            wait_ready(folder, procs, ["a", "b"])
            (folder / "go").touch()
            if round_ + ahead < rounds:
                launched.append(launch(round_ + ahead))
            done = [proc.communicate(timeout=120) for proc in procs]
            codes = [proc.returncode for proc in procs]
            assert sorted(codes) == [0, 2], (round_, codes, done)
            winner, loser = (0, 1) if codes[0] == 0 else (1, 0)
            err = done[loser][1]
            assert err.count("\n") == 1 and err.startswith(ERROR), (round_, err)
            assert f"{results}: another `rnnrepro results unpack`" in err, (round_, err)
            if "(pid " in err:
                assert f"(pid {procs[winner].pid})" in err, (round_, err)
                pids_named += 1
            assert "Traceback" not in done[winner][1] + err, (round_, done)
            assert_complete(quick_archive, results)
    finally:
        for _, procs in launched:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate()
    assert pids_named >= 15, "the holder's pid is read from the lock file"
