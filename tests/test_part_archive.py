"""Part archives: an unfinished run moves to another machine and ends as if never stopped.

A run stopped mid-way is packed with `rnnrepro results pack --unfinished` (its checkpoint, best
weights and partial history), unpacked into a fresh results folder with `rnnrepro results
unpack`, and resumed there: its history, metrics, latency and best weights equal an
uninterrupted run's (wall times aside). Once through the commands, in process (fast), and once
as a user does it through Snakemake, with the training job killed by SIGKILL (slow). Then what
unpack refuses in a part archive (pickles, malformed safetensors members, resume members out of
place), each in one line with nothing left behind, and the training-state files themselves:
saved and loaded back, model, optimizer and every random state are equal, and loading never
unpickles.
"""

from __future__ import annotations

import _pickle
import contextlib
import copy
import json
import logging
import os
import pickle
import random
import re
import shutil
import signal
import struct
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

import test_memory_train as memory_tests
import test_renet_train as renet_tests
from conftest import QUICK, REPO, copy_repo, run_snakemake
from rnnrepro import state_file
from rnnrepro.checkpoint import BestWeights, Checkpointer, CheckpointError, TrainingState
from rnnrepro.cli import main
from rnnrepro.config_types import load
from rnnrepro.data.permutations import write_permutations
from rnnrepro.execution import StopRequested
from rnnrepro.paths import BEST_FILE, CHECKPOINT_FILE, PARTIAL_HISTORY_FILE, RESUME_FILES
from rnnrepro.results import archive, unpacking
from rnnrepro.state_format import (
    HEADER_LIMIT,
    StateFileError,
    document,
    parse_header,
    read_header,
)
from test_archive_hostile import archive_of, refused
from test_resume import assert_same_run, outputs

RENET_RUN = "renet/mnist/seed0"
MEMORY_RUN = "memory/original/lr3e-05/seed0"


@pytest.fixture(scope="module")
def quick_config() -> dict:
    """The quick preset's config as an archive records it (JSON)."""
    return json.loads(json.dumps(load(REPO, [REPO / QUICK])))


# -- forbidding unpickling -------------------------------------------------------------------

_UNPICKLING = {"forbidden": False}


def _no_unpickling(event: str, _args: tuple) -> None:
    # Every unpickler that rebuilds an object (a tensor, a class) looks up its global first.
    if event == "pickle.find_class" and _UNPICKLING["forbidden"]:
        raise AssertionError("something was unpickled")


sys.addaudithook(_no_unpickling)    # inert until a test sets the flag (hooks cannot be removed)


@pytest.fixture
def no_pickle(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Any unpickling in the test fails it: pickle's and torch's loaders raise, and the audit
    hook catches an unpickler reached some other way."""
    def refuse(*_args, **_kwargs):
        raise AssertionError("something was unpickled")

    for module, name in ((pickle, "load"), (pickle, "loads"), (pickle, "Unpickler"),
                         (torch, "load"), (torch.serialization, "load")):
        monkeypatch.setattr(module, name, refuse)
    _UNPICKLING["forbidden"] = True
    try:
        yield
    finally:
        _UNPICKLING["forbidden"] = False


class Trap:
    """A pickle that, once unpickled, creates the file ``marker``: proof it was loaded."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


# -- 1. an unfinished run moves to another machine -------------------------------------------

@contextlib.contextmanager
def stop_after(checks: int) -> Iterator[Callable[[], None]]:
    """``stop_on_signal`` with a SIGTERM arriving just before the ``checks + 1``-th check (one
    a minibatch): the run stops there, as a time limit stops it, and keeps its checkpoint."""
    calls = [0]

    def check() -> None:
        calls[0] += 1
        if calls[0] > checks:
            raise StopRequested("stopped by signal 15")

    yield check


def memory_job(root: Path) -> tuple[Callable[[Path], list[str]], str]:
    """The memory trainer on 48 images in batches of 16 (3 minibatches an epoch), 3 epochs."""
    memory_tests.make_dataset(root / "results/data/mnist")
    write_permutations(root / "results/data/permutations.json", seed=5, count=3)

    def args(out: Path) -> list[str]:
        return memory_tests.train_args(root, out, "transposed-perm1", memory_tests.TINY)

    return args, "memory/transposed-perm1/lr0.001/seed3"


def renet_job(root: Path) -> tuple[Callable[[Path], list[str]], str]:
    """The ReNet trainer on 160 8x8 images in batches of 16 (10 minibatches), 4 epochs."""
    data = renet_tests.write_dataset(root / "data", {"train": 160, "validation": 60,
                                                     "test": 60})
    settings = renet_tests.settings(max_epochs=4)

    def args(out: Path) -> list[str]:
        return renet_tests.cli(data, out, settings)[3:]    # without `python -m rnnrepro`

    return args, "renet/mnist/seed1"


# (job, minibatches before the stop, epochs checkpointed by then, epochs in all, training
# outputs); the stop signal stood in for is the shared training loop's.
JOBS = {
    "memory": (memory_job, 7, 2, 3, ("history.csv", "metrics.json", "latency.csv")),
    "renet": (renet_job, 15, 1, 4, ("history.csv", "metrics.json")),
}


@pytest.mark.parametrize("name", JOBS)
def test_an_unfinished_run_resumes_from_a_part_archive_on_another_machine(
        name, tmp_path, quick_config, monkeypatch, caplog):
    make_job, checks, done, blocks, training_outputs = JOBS[name]
    args, run = make_job(tmp_path / "inputs")
    reference = tmp_path / "reference"
    assert main(args(reference)) == 0

    # Machine A: the run stops mid-epoch (exit 75), its checkpoint kept.
    source = tmp_path / "a" / "results"
    with monkeypatch.context() as patch:
        patch.setattr("rnnrepro.training_loop.stop_on_signal", lambda: stop_after(checks))
        assert main(args(source / run)) == StopRequested.exit_code
    assert sorted(p.name for p in (source / run).iterdir()) == sorted(RESUME_FILES)
    assert len((source / run / PARTIAL_HISTORY_FILE).read_text().splitlines()) == done + 1

    part = tmp_path / "part.tar.gz"
    assert main(["results", "pack", "--unfinished", "--output", str(part), "--results-dir",
                 str(source), "--config", json.dumps(quick_config), "--commit", "abc1234",
                 *(str(source / run / output) for output in training_outputs)]) == 0
    with tarfile.open(part) as tar:
        assert tar.getnames() == ["manifest.json", "config.json",
                                  *(f"{run}/{file}" for file in sorted(RESUME_FILES))]
    packed = {file: (source / run / file).read_bytes() for file in RESUME_FILES}
    shutil.rmtree(tmp_path / "a")       # the other machine has only the archive

    # Machine B: a fresh results folder; the run's files go to its folder, nothing else.
    target = tmp_path / "b" / "results"
    assert main(["results", "unpack", str(part), "--root", str(REPO), "--results-dir",
                 str(target), "--configfile", str(REPO / QUICK)]) == 0
    assert sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()) == \
        sorted(f"{run}/{file}" for file in RESUME_FILES)
    assert {file: (target / run / file).read_bytes() for file in RESUME_FILES} == packed

    with caplog.at_level(logging.INFO, logger="rnnrepro"):
        assert main(args(target / run)) == 0
    resumed = re.search(r"resuming from (\S+) after (\d+) of (\d+) blocks", caplog.text)
    assert resumed and resumed.groups() == (str(target / run / CHECKPOINT_FILE), str(done),
                                            str(blocks)), caplog.text
    assert not (target / run / CHECKPOINT_FILE).exists()
    assert_same_run(target / run, reference)


TINY_PRESET = """\
# One narrow ReNet and one 28-step memory run, on 400 images of the bundled MNIST sample.
memory:
  representations: [transposed]
  learning_rates: [1.0e-3]
  epochs: 3
  train_subset: 400
increment:
  tasks: []
renet:
  models:
    mnist:
      cell: gru
      layers: [{patch: [2, 2], hidden: 8}, {patch: [2, 2], hidden: 8}]
      fc: [32]
      flip: false
      shift: true
  training: {max_epochs: 3, patience: 3, precision: fp32}
  train_subset: 400
"""
# run folder -> (its trainer's command, checkpoints written before the kill, epochs in all)
KILLED = {"renet/mnist/seed0": ("renet-train", 1, 3),
          "memory/transposed/lr0.001/seed0": ("memory-train", 2, 3)}


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        below = children.get(todo.pop(), [])
        found += below
        todo += below
    return found


def kill_trainers(snakemake: subprocess.Popen, workdir: Path) -> None:
    """SIGKILL each run's trainer (a preemption) right after its k-th checkpoint."""
    versions: dict[str, list] = {run: [] for run in KILLED}
    deadline = time.monotonic() + 300
    while any(len(versions[run]) < k for run, (_, k, _) in KILLED.items()):
        assert snakemake.poll() is None, "snakemake ended before every trainer was killed"
        assert time.monotonic() < deadline, f"no kill after 300 s: {versions}"
        for run, (command, k, _) in KILLED.items():
            with contextlib.suppress(FileNotFoundError):
                stat = (workdir / "results/quick" / run / CHECKPOINT_FILE).stat()
                if len(versions[run]) < k and (stat.st_ino, stat.st_mtime_ns) not in versions[run]:
                    versions[run].append((stat.st_ino, stat.st_mtime_ns))
                    if len(versions[run]) == k:
                        kill_command(snakemake.pid, command)
        time.sleep(0.001)


def kill_command(root: int, command: str) -> None:
    for pid in descendants(root):
        with contextlib.suppress(OSError):
            if command.encode() in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0"):
                os.kill(pid, signal.SIGKILL)
                return
    pytest.fail(f"no {command} process below snakemake")


@pytest.mark.slow
def test_snakemake_moves_killed_runs_to_a_fresh_clone_that_resumes_them(tmp_path):
    """The recipe of the README: the part archive target on machine A after its jobs were
    killed, `rnnrepro results unpack` in a fresh clone B, the same snakemake command there."""
    config = ("--configfile", QUICK, "tiny.yaml")
    targets = ("--", *(f"results/quick/{run}/history.csv" for run in KILLED))
    a = copy_repo(tmp_path / "a")
    (a / "tiny.yaml").write_text(TINY_PRESET)
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    with open(tmp_path / "a.log", "w") as log:
        snakemake = subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "2",
                                      "--keep-going", *config, *targets], cwd=a, env=env,
                                     stdout=log, stderr=subprocess.STDOUT)
    try:
        kill_trainers(snakemake, a)
    finally:
        snakemake.wait(timeout=300)
    assert snakemake.returncode == 1, (tmp_path / "a.log").read_text()[-3000:]
    # What each run left: its checkpoint, and its best weights and partial history unless the
    # kill fell before they were written (a write cut short leaves a temporary file beside).
    left = {run: outputs(a / "results/quick" / run) for run in KILLED}
    for files in left.values():
        assert CHECKPOINT_FILE in files and set(files) <= set(RESUME_FILES), files

    run_snakemake(a, "--cores", "1", *config, "--", "results/archive/quick.part.tar.gz")
    part = tmp_path / "transfer" / "quick.part.tar.gz"
    part.parent.mkdir()
    shutil.copy(a / "results/archive/quick.part.tar.gz", part)
    with tarfile.open(part) as tar:
        assert sorted(tar.getnames()) == sorted(["manifest.json", "config.json", *(
            f"{run}/{file}" for run, files in left.items() for file in files)])

    b = copy_repo(tmp_path / "b")
    (b / "tiny.yaml").write_text(TINY_PRESET)
    unpack = subprocess.run([sys.executable, "-m", "rnnrepro", "results", "unpack", str(part),
                             "--configfile", QUICK, "--configfile", "tiny.yaml"], cwd=b,
                            capture_output=True, text=True, timeout=300)
    assert unpack.returncode == 0, unpack.stderr
    assert "2 unfinished run(s) put in their folders to resume" in unpack.stderr
    for run, files in left.items():
        assert outputs(b / "results/quick" / run) == files
        for file in files:
            assert (b / "results/quick" / run / file).read_bytes() == \
                (a / "results/quick" / run / file).read_bytes()
    assert not (b / "results/quick/imported").exists()

    run_snakemake(b, "--cores", "2", *config, *targets)
    for run, (_, k, blocks) in KILLED.items():
        log = (b / "results/quick/logs" / f"{run}.log").read_text()
        assert f"resuming from results/quick/{run}/{CHECKPOINT_FILE} after {k} of {blocks} blocks" \
            in log, log[-3000:]

    # The reference: machine A trains both runs from the start, uninterrupted.
    for run in KILLED:
        shutil.rmtree(a / "results/quick" / run)
    run_snakemake(a, "--cores", "2", *config, *targets)
    for run in KILLED:
        assert_same_run(b / "results/quick" / run, a / "results/quick" / run)


# -- 2. what unpack refuses in a part archive ------------------------------------------------

def tiny_state(folder: Path) -> tuple[torch.nn.Module, torch.optim.Optimizer, TrainingState]:
    """A run folder with a real checkpoint and best weights of a tiny model after 2 epochs."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4),
                                torch.nn.ReLU(), torch.nn.Linear(4, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(2):
        optimizer.zero_grad()
        model(torch.randn(5, 3)).square().sum().backward()
        optimizer.step()
    state = TrainingState(history=[{"epoch": e, "loss": 1 / e, "wall_time": 0.5 * e}
                                   for e in (1, 2)], elapsed=1.0, blocks_done=2, best_epoch=2,
                          best_value=0.5)
    folder.mkdir(parents=True, exist_ok=True)
    Checkpointer(folder / CHECKPOINT_FILE, "fp").save(
        model, optimizer, state, {"shuffle": np.random.default_rng(1)})
    BestWeights(folder / BEST_FILE, "fp").save(model, 2)
    (folder / PARTIAL_HISTORY_FILE).write_text("epoch,loss,wall_time\n1,1.0,0.5\n2,0.5,1.0\n")
    return model, optimizer, state


@pytest.fixture(scope="module")
def state_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The three resume files of a run, by file name."""
    folder = tmp_path_factory.mktemp("state") / RENET_RUN
    tiny_state(folder)
    return {name: (folder / name).read_bytes() for name in RESUME_FILES}


def part_members(config: dict, files: dict[str, bytes], run: str = RENET_RUN,
                 **replaced: bytes) -> dict[str, bytes]:
    """A part archive's members: the config and a run's resume files (``replaced`` by name)."""
    members = {"config.json": json.dumps(config).encode()}
    members.update({f"{run}/{name}": replaced.get(name, data) for name, data in files.items()})
    return members


def test_a_valid_part_archive_unpacks_and_twice_is_harmless(tmp_path, quick_config, capsys):
    source = tmp_path / "a" / "results"
    tiny_state(source / RENET_RUN)
    part = tmp_path / "part.tar.gz"
    manifest = archive.pack(part, [], results_dir=str(source), config=quick_config,
                            preset="quick", version="0", commit="c",
                            resume=[str(source / RENET_RUN / name) for name in RESUME_FILES])
    assert sorted(manifest["files"]) == ["config.json",
                                         *(f"{RENET_RUN}/{n}" for n in sorted(RESUME_FILES))]
    args = ["results", "unpack", str(part), "--root", str(REPO), "--results-dir",
            str(tmp_path / "results"), "--configfile", str(REPO / QUICK)]
    for _ in range(2):      # the same files already in place: nothing to do, no error
        assert main(args) == 0
        for name in RESUME_FILES:
            placed = tmp_path / "results" / RENET_RUN / name
            assert placed.read_bytes() == (source / RENET_RUN / name).read_bytes()
            assert placed.stat().st_mtime == int((source / RENET_RUN / name).stat().st_mtime)
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["renet"]

    # This clone's own, different checkpoint of that run is never overwritten.
    own = tmp_path / "results" / RENET_RUN / CHECKPOINT_FILE
    own.write_bytes(own.read_bytes()[:-1] + b"\x01")
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"{own} exists and differs from the archive's" in err and err.count("\n") == 1
    assert own.read_bytes()[-1:] == b"\x01"


@pytest.mark.parametrize("name", [f"{RENET_RUN}/checkpoint.pt",
                                  f"results/{RENET_RUN}/checkpoint.pt",
                                  f"{MEMORY_RUN}/best.pt", f"{RENET_RUN}/state.PKL"])
@pytest.mark.parametrize("results_exist", [True, False])
def test_a_pickle_member_is_refused_unread(tmp_path, capsys, quick_config, state_files, name,
                                           results_exist):
    """Listed in the manifest with its right sha256, after valid resume members (so staging
    holds files when it is refused): refused by its name, never loaded."""
    marker = tmp_path / "unpickled"
    members = {**part_members(quick_config, state_files), name: pickle.dumps(Trap(marker))}
    path = archive_of(tmp_path / "pickle.tar.gz", members)
    expected = f"member {name}: would need unpickling to load"
    if results_exist:
        refused(tmp_path, path, capsys, expected)
    else:
        assert main(["results", "unpack", str(path), "--root", str(REPO), "--results-dir",
                     str(tmp_path / "results"), "--configfile", str(REPO / QUICK)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and expected in err, err
        assert not (tmp_path / "results").exists(), "no results folder, staging or import left"
    assert not marker.exists()


def split(data: bytes) -> tuple[dict, dict, bytes]:
    """A safetensors file's header (without its metadata), JSON document and data."""
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    doc = json.loads(header.pop("__metadata__")["rnnrepro"])
    return header, doc, data[8 + length:]


def joined(header: dict, doc: dict, body: bytes) -> bytes:
    raw = json.dumps({**header, "__metadata__": {"rnnrepro": json.dumps(doc)}}).encode()
    return struct.pack("<Q", len(raw)) + raw + body


def last_tensor(header: dict) -> str:
    return max(header, key=lambda name: header[name]["data_offsets"][1])


def _edit_header(edit: Callable[[dict, dict], None]) -> Callable[[bytes], bytes]:
    def apply(data: bytes) -> bytes:
        header, doc, body = split(data)
        edit(header, doc)
        return joined(header, doc, body)
    return apply


def _without_last_tensor(data: bytes) -> bytes:
    header, doc, body = split(data)
    begin = header.pop(last_tensor(header))["data_offsets"][0]
    return joined(header, doc, body[:begin])


def _with_extra_tensor(data: bytes) -> bytes:
    header, doc, body = split(data)
    header["model/extra"] = {"dtype": "U8", "shape": [2], "data_offsets": [len(body),
                                                                           len(body) + 2]}
    return joined(header, doc, body + b"\0\0")


def _set(tensor: str | None, path: str, value) -> Callable[[bytes], bytes]:
    """Set ``<key>/<key>...`` of a tensor's header entry (of the document if ``tensor`` is
    None) to ``value``."""
    def edit(header: dict, doc: dict) -> None:
        node = doc if tensor is None else header[tensor]
        *parents, leaf = path.split("/")
        for key in parents:
            node = node[key]
        node[leaf] = value
    return _edit_header(edit)


# Malformed checkpoints: (how the valid file is changed, what the one-line refusal says).
MALFORMED = {
    "header length beyond the limit": (
        lambda data: struct.pack("<Q", HEADER_LIMIT + 1) + data[8:200],
        f"header length {HEADER_LIMIT + 1:,} bytes, outside 2-{HEADER_LIMIT:,}"),
    "a pickle under the checkpoint's name": (
        lambda data: pickle.dumps({"model": torch.zeros(3).numpy()}), "header length "),
    "header not JSON": (
        lambda data: data[:8] + b"{'model': " + b" " * (struct.unpack("<Q", data[:8])[0] - 10)
        + data[8 + struct.unpack("<Q", data[:8])[0]:], "the header is not JSON"),
    "a dtype not allowed": (_set("model/0.weight", "dtype", "F8_E4M3"),
                            "tensor 'model/0.weight': dtype 'F8_E4M3' is not one of F64,"),
    "a dtype that is not a name": (_set("model/0.weight", "dtype", ["F32"]),
                                   "tensor 'model/0.weight': dtype \"['F32']\" is not one of"),
    "offsets not matching the shape": (_set("model/0.weight", "shape", [4, 4]),
                                       "tensor 'model/0.weight': shape [4, 4] of F32 takes 64 "
                                       "bytes, its offsets"),
    "data truncated": (lambda data: data[:-3], "truncated or padded"),
    "a document failing the schema": (_set(None, "state/blocks_done", -1),
                                      "state/blocks_done: -1 is less than the minimum of 0 "
                                      "(training-state.schema.yaml checkpoint)"),
    "best weights' document in a checkpoint": (
        _set(None, "format", "rnnrepro-best/1"),
        "its document's format is 'rnnrepro-best/1', not 'rnnrepro-checkpoint/1'"),
    "an index naming a missing tensor": (_without_last_tensor,
                                         "named by its index, is missing"),
    "an index naming one tensor twice": (_set(None, "tensors/rng/torch", "model/0.weight"),
                                         "its index names one tensor twice"),
    "a tensor the index does not name": (_with_extra_tensor,
                                         "tensor 'model/extra' is not in its index"),
    "a random state that is not bytes": (_set("rng/torch", "dtype", "I8"),
                                         "tensor 'rng/torch' (rng) has dtype I8, expected one "
                                         "of U8"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_checkpoint_member_is_refused_in_one_line(tmp_path, capsys, quick_config,
                                                              state_files, case):
    change, problem = MALFORMED[case]
    bad = change(state_files[CHECKPOINT_FILE])
    members = part_members(quick_config, state_files, **{CHECKPOINT_FILE: bad})
    path = archive_of(tmp_path / "bad.tar.gz", members)
    refused(tmp_path, path, capsys, f"member {RENET_RUN}/{CHECKPOINT_FILE}: not a valid "
            "training-state file (", problem)


@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_checkpoint_is_refused_on_load_in_one_line(tmp_path, case, no_pickle):
    change, problem = MALFORMED[case]
    model, optimizer, _ = tiny_state(tmp_path / "run")
    path = tmp_path / "run" / CHECKPOINT_FILE
    path.write_bytes(change(path.read_bytes()))
    with pytest.raises(CheckpointError) as err:
        Checkpointer(path, "fp").load(model, optimizer, {"shuffle": np.random.default_rng()})
    message = str(err.value)
    assert message.startswith(f"{path}: not a valid checkpoint (") and problem in message
    assert "\n" not in message and f"delete it (and {BEST_FILE} beside it)" in message


@pytest.mark.parametrize(("members", "problem"), [
    ({f"renet/mnist/{CHECKPOINT_FILE}": CHECKPOINT_FILE},
     "a checkpoint, best weights or partial history outside a training run's folder"),
    ({f"imported/{RENET_RUN}/{CHECKPOINT_FILE}": CHECKPOINT_FILE},
     "a checkpoint, best weights or partial history outside a training run's folder"),
    ({f"{RENET_RUN}/weights.safetensors": CHECKPOINT_FILE},
     f"a safetensors file other than a run's {CHECKPOINT_FILE} or best weights"),
    ({f"{RENET_RUN}/{BEST_FILE}": BEST_FILE},
     f"best weights without the run's {CHECKPOINT_FILE}"),
    ({f"{RENET_RUN}/{PARTIAL_HISTORY_FILE}": PARTIAL_HISTORY_FILE},
     f"a partial history without the run's {CHECKPOINT_FILE}"),
    ({f"{RENET_RUN}/{BEST_FILE}": CHECKPOINT_FILE},
     "its document's format is 'rnnrepro-checkpoint/1', not 'rnnrepro-best/1'"),
])
def test_resume_members_out_of_place_are_refused(tmp_path, capsys, quick_config, state_files,
                                                 members, problem):
    """Members of valid files, under names where they do not belong."""
    contents = {"config.json": json.dumps(quick_config).encode(),
                **{name: state_files[file] for name, file in members.items()}}
    path = archive_of(tmp_path / "bad.tar.gz", contents)
    refused(tmp_path, path, capsys, f"member {next(iter(members))}: ", problem)


def test_pack_leaves_out_a_run_with_an_old_pickle_checkpoint(tmp_path, quick_config, capsys,
                                                             caplog):
    run = tmp_path / "results" / RENET_RUN
    run.mkdir(parents=True)
    (run / "checkpoint.pt").write_bytes(pickle.dumps(Trap(tmp_path / "unpickled")))
    with caplog.at_level(logging.WARNING, logger="rnnrepro"):
        assert main(["results", "pack", "--unfinished", "--output", str(tmp_path / "p.tar.gz"),
                     "--results-dir", str(tmp_path / "results"), "--config",
                     json.dumps(quick_config), "--commit", "c", str(run / "history.csv"),
                     str(run / "metrics.json")]) == 2
    assert "no finished run to pack yet, and no unfinished run has a checkpoint" in \
        capsys.readouterr().err
    assert f"{run / 'checkpoint.pt'}: a checkpoint of the old pickle format" in caplog.text
    assert not (tmp_path / "p.tar.gz").exists() and not (tmp_path / "unpickled").exists()


# -- 3. training-state files: round trips without unpickling ---------------------------------

def draws(generators: dict) -> list:
    """Numbers from every random stream a trainer uses, advancing each."""
    return [torch.rand(3).tolist(), np.random.rand(3).tolist(), np.random.standard_normal(),
            random.random(), random.gauss(0, 1), generators["shuffle"].random(3).tolist(),
            torch.rand(3, generator=generators["augment"]).tolist()]


def fresh_model(seed: int, lr: float = 1e-3, betas: tuple[float, float] = (0.8, 0.99)
                ) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4),
                                torch.nn.ReLU(), torch.nn.Linear(4, 2))
    return model, torch.optim.Adam(model.parameters(), lr=lr, betas=betas)


def step(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
    optimizer.zero_grad()
    model(torch.linspace(-1, 1, 15).reshape(5, 3)).square().sum().backward()
    optimizer.step()


def test_a_checkpoint_restores_model_optimizer_and_every_random_state(tmp_path, no_pickle):
    model, optimizer = fresh_model(0)
    for _ in range(3):
        step(model, optimizer)
    generators = {"shuffle": np.random.default_rng(11), "augment": torch.Generator()}
    generators["augment"].manual_seed(12)
    random.seed(13)
    np.random.seed(14)
    draws(generators)       # mid-stream; Python and NumPy each keep a Gaussian for the next
    assert random.getstate()[2] is not None and np.random.get_state()[3] == 1
    state = TrainingState(history=[{"epoch": 1, "loss": 0.25, "acc": 0.5, "wall_time": 1.5},
                                   {"epoch": 2, "loss": 0.125, "acc": 0.75, "wall_time": 3.0}],
                          elapsed=3.0, blocks_done=2, best_epoch=2, best_value=0.75)
    path = tmp_path / CHECKPOINT_FILE
    Checkpointer(path, "fp", unit="gru").save(model, optimizer, state, generators)
    expected_draws = draws(generators)
    saved_model = copy.deepcopy(model.state_dict())
    saved_optimizer = copy.deepcopy(optimizer.state_dict())
    step(model, optimizer)
    expected_step = copy.deepcopy(model.state_dict())

    restored, restored_optimizer = fresh_model(1, lr=0.5, betas=(0.9, 0.999))
    restored_generators = {"shuffle": np.random.default_rng(0), "augment": torch.Generator()}
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    loaded = Checkpointer(path, "fp", unit="gru").load(restored, restored_optimizer,
                                                       restored_generators)
    assert loaded == state
    assert draws(restored_generators) == expected_draws
    assert restored.state_dict().keys() == saved_model.keys()
    for key, value in restored.state_dict().items():
        assert value.dtype == saved_model[key].dtype and torch.equal(value, saved_model[key])
    moments = restored_optimizer.state_dict()
    assert moments["state"].keys() == saved_optimizer["state"].keys()
    for param, entries in saved_optimizer["state"].items():
        assert moments["state"][param].keys() == entries.keys()
        for key, value in entries.items():
            assert torch.equal(moments["state"][param][key], value), (param, key)
    assert json.loads(json.dumps(moments["param_groups"])) == \
        json.loads(json.dumps(saved_optimizer["param_groups"]))
    step(restored, restored_optimizer)   # the next update is the one the saved run made
    for key, value in restored.state_dict().items():
        assert torch.equal(value, expected_step[key]), key

    # The document holds the state; the header is the file's, checked without torch.
    doc = document(read_header(path), "checkpoint")
    assert doc["state"]["history"] == {"columns": ["epoch", "loss", "acc", "wall_time"],
                                       "rows": [[1, 0.25, 0.5, 1.5], [2, 0.125, 0.75, 3.0]]}
    assert doc["unit"] == "gru" and doc["fingerprint"] == "fp"


def test_loading_refuses_another_run_or_unit_and_never_unpickles(tmp_path, no_pickle, caplog):
    model, optimizer = fresh_model(0)
    step(model, optimizer)
    path = tmp_path / CHECKPOINT_FILE
    Checkpointer(path, "fp", unit="gru").save(model, optimizer, TrainingState(), {})
    with caplog.at_level(logging.WARNING):
        assert Checkpointer(path, "other").load(model, optimizer, {}) is None
    assert "written with different settings; starting from scratch" in caplog.text
    with pytest.raises(CheckpointError, match="recurrent unit 'gru', this job uses 'lstm'"):
        Checkpointer(path, "fp", unit="lstm").load(model, optimizer, {})
    with pytest.raises(CheckpointError, match=r"does not fit this job \(StateFileError: a "
                                              "random state does not fit"):
        Checkpointer(path, "fp", unit="gru").load(model, optimizer,
                                                  {"shuffle": np.random.default_rng()})

    # An old pickle checkpoint alone: refused, one line, never loaded.
    old = tmp_path / "old"
    old.mkdir()
    (old / "checkpoint.pt").write_bytes(pickle.dumps(Trap(tmp_path / "unpickled")))
    with pytest.raises(CheckpointError) as err:
        Checkpointer(old / CHECKPOINT_FILE, "fp").load(model, optimizer, {})
    assert str(err.value).startswith(f"{old / 'checkpoint.pt'}: a checkpoint of the pickle "
                                     "format") and "\n" not in str(err.value)
    assert not (tmp_path / "unpickled").exists()


def test_the_guard_catches_unpickling(tmp_path, no_pickle):
    """The ``no_pickle`` fixture really fails a load that unpickles."""
    path = tmp_path / "weights.pt"
    with open(path, "wb") as handle:
        pickle.Pickler(handle).dump(Trap(tmp_path / "unpickled"))
    with pytest.raises(AssertionError, match="unpickled"):
        torch.load(path, weights_only=False)
    with open(path, "rb") as handle, pytest.raises(AssertionError, match="unpickled"):
        pickle._Unpickler(handle).load()    # the pure-Python unpickler, reached directly
    with pytest.raises(AssertionError, match="unpickled"):
        _pickle.loads(path.read_bytes())    # the C one
    assert not (tmp_path / "unpickled").exists()


def test_best_weights_round_trip_and_refuse_another_epoch(tmp_path, no_pickle):
    model, optimizer = fresh_model(0)
    step(model, optimizer)
    best = BestWeights(tmp_path / BEST_FILE, "fp")
    best.save(model, 3)
    restored, _ = fresh_model(1)
    best.load(restored, 3)
    for key, value in model.state_dict().items():
        assert torch.equal(restored.state_dict()[key], value), key
    with pytest.raises(CheckpointError, match="holds epoch 3 of run fp, but the run's best "
                                              "epoch is 4"):
        best.load(restored, 4)
    header = read_header(tmp_path / BEST_FILE)
    assert set(header.tensors) == {f"model/{key}" for key in model.state_dict()}
    assert header.tensors["model/1.num_batches_tracked"].dtype == "I64"


def test_tied_weights_are_saved_once_each_and_load_back(tmp_path, no_pickle):
    """Two state-dict entries sharing memory (tied weights): safetensors refuses shared
    tensors, so the second is written as a copy."""
    first, second = torch.nn.Linear(4, 4), torch.nn.Linear(4, 4)
    second.weight = first.weight
    model = torch.nn.Sequential(first, second)
    path = tmp_path / BEST_FILE
    BestWeights(path, "fp").save(model, 1)
    doc, tensors = state_file.read(path, "best")
    assert torch.equal(tensors["model/0.weight"], tensors["model/1.weight"])
    restored = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 4))
    BestWeights(path, "fp").load(restored, 1)
    assert torch.equal(restored[1].weight, first.weight)
    assert doc["tensors"]["model"]["1.weight"] == "model/1.weight"


def test_a_write_cut_short_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    model, _ = fresh_model(0)
    path = tmp_path / BEST_FILE
    BestWeights(path, "fp").save(model, 1)
    before = path.read_bytes()

    def killed(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("safetensors.torch.save_file", killed)
    with pytest.raises(KeyboardInterrupt):
        BestWeights(path, "fp").save(model, 2)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [BEST_FILE]


def test_state_format_checks_never_raise_anything_but_state_file_errors(state_files):
    """A header's values of every JSON type where the file has another: each is a
    StateFileError (a one-line refusal), never a TypeError or KeyError."""
    header, doc, body = split(state_files[CHECKPOINT_FILE])
    values = [None, True, -1, 1.5, "x", [], ["F32"], {}, {"a": 1}, 2**70]
    for tensor in ("model/0.weight", "rng/torch"):
        for key in ("dtype", "shape", "data_offsets"):
            for value in values:
                changed = copy.deepcopy(header)
                changed[tensor][key] = value
                raw = joined(changed, doc, body)
                with contextlib.suppress(StateFileError):
                    document(parse_header(raw[8:8 + struct.unpack("<Q", raw[:8])[0]],
                                          len(raw)), "checkpoint")
    for key in ("state", "optimizer", "rng", "tensors", "fingerprint", "unit"):
        for value in values:
            raw = joined(header, {**doc, key: value}, body)
            with contextlib.suppress(StateFileError):
                document(parse_header(raw[8:8 + struct.unpack("<Q", raw[:8])[0]], len(raw)),
                         "checkpoint")


def test_unpacking_limits_a_member_before_reading_it(tmp_path, capsys, quick_config,
                                                     state_files, monkeypatch):
    """A checkpoint over the size limit is refused from its tar header."""
    size = len(state_files[CHECKPOINT_FILE])
    monkeypatch.setattr(unpacking, "LIMITS", unpacking.Limits(state_bytes=size - 1))
    path = archive_of(tmp_path / "big.tar.gz", part_members(quick_config, state_files))
    refused(tmp_path, path, capsys, f"member {RENET_RUN}/", f"declares {size:,} bytes, over "
            f"the limit of {size - 1:,}")
