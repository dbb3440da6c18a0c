"""A fourth ReNet dataset takes its declaration, a data reader, its config and its published
rows, and nothing else: in a copy of the repository, a toy dataset (a few hundred synthetic 8x8
images) is declared in rnnrepro/renet/datasets.py, read by a new rnnrepro/data/toy.py, configured
in a preset file and given rows in paper/published.yaml; the workflow then plans a renet_train
job for it, trains it, and prints it in the summary and in paper/tables.tex."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO, copy_repo, run_snakemake

pytestmark = pytest.mark.slow

READER = '''"""A toy dataset: 8x8 grey images of two classes (bright top or bottom half)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from rnnrepro.data.checksums import verified
from rnnrepro.data.errors import setting
from rnnrepro.data.processed import save_array, write_manifest, write_normalization

RAW_FILES = ("toy.npz",)


def prepare(files: Mapping[str, Path], output: Path, settings: dict[str, Any]) -> None:
    """Verify toy.npz and cut it into the splits, in order."""
    path = files["toy.npz"]
    record = verified([path], settings, "toy")
    splits = setting(settings, "splits", "data.toy.splits")
    with np.load(path) as raw:
        images, labels = raw["images"], raw["labels"]
    start = 0
    for split in ("train", "validation", "test"):
        stop = start + int(splits[split])
        save_array(Path(output) / f"{split}_images.npy", images[start:stop])
        save_array(Path(output) / f"{split}_labels.npy", labels[start:stop].astype(np.int64))
        start = stop
    write_normalization(output, np.zeros((1, 8, 8)), np.full((1, 8, 8), 255.0))
    write_manifest(output, "toy", record)
'''

# The only files a new dataset may touch (the preset file is new, like the reader).
ALLOWED = {"workflow/rnnrepro/renet/datasets.py", "workflow/rnnrepro/data/toy.py",
           "paper/published.yaml", "workflow/presets/toy.yaml"}


def toy_images(folder: Path, count: int = 400) -> Path:
    """``count`` 8x8 uint8 images: class 0 bright in the top half, class 1 in the bottom."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, count)
    images = rng.integers(0, 60, (count, 1, 8, 8)).astype(np.uint8)
    for index, label in enumerate(labels):
        rows = slice(0, 4) if label == 0 else slice(4, 8)
        images[index, 0, rows] += 150
    folder.mkdir(parents=True)
    path = folder / "toy.npz"
    np.savez(path, images=images, labels=labels)
    return path


def declare(repo: Path, raw: Path) -> None:
    """The four places a dataset lives: its declaration, its reader, its config, its rows."""
    declaration = repo / "workflow/rnnrepro/renet/datasets.py"
    text = declaration.read_text()
    anchor = '    Dataset("svhn", "SVHN", (3, 32, 32)),\n'
    assert anchor in text
    declaration.write_text(text.replace(anchor, anchor + '    Dataset("toy", "Toy", (1, 8, 8)),\n'))
    (repo / "workflow/rnnrepro/data/toy.py").write_text(READER)
    checksum = "sha256:" + hashlib.sha256(raw.read_bytes()).hexdigest()
    preset = {
        "preset": "toy",
        "data": {"files": {"toy": {"toy.npz": {"checksum": checksum,
                                               "sources": [str(raw.parent)]}}},
                 "toy": {"splits": {"train": 240, "validation": 80, "test": 80}}},
        "memory": {"representations": []},
        "increment": {"tasks": []},
        "renet": {"datasets": ["toy"], "seeds": [0],
                  "models": {"toy": {"cell": "gru", "layers": [{"patch": [2, 2], "hidden": 8}],
                                     "fc": [16], "flip": False, "shift": False}},
                  "training": {"max_epochs": 2, "patience": 2, "batch_size": 32},
                  "train_subset": None, "threads": 1},
    }
    (repo / "workflow/presets/toy.yaml").write_text(yaml.safe_dump(preset))
    published = repo / "paper/published.yaml"
    document = yaml.safe_load(published.read_text())
    renet = document["renet"]
    renet["architectures"]["datasets"]["toy"] = {
        "renet_layers": 1, "patches": [[2, 2]], "hidden": [8], "fc": [16],
        "fc_activation": "max(0, x)", "cell": "gru", "flip": False, "shift": False}
    renet["test_errors"]["datasets"]["toy"] = {
        "source": {"paper": "none", "table": "a toy"},
        "rows": [{"row": 1, "model": "A toy ReNet", "error": 5.0, "renet": True}]}
    published.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))


def changed_files(repo: Path) -> set[str]:
    """Files of the copy that differ from (or are new to) the repository's working tree."""
    changed = set()
    for path in repo.rglob("*"):
        relative = path.relative_to(repo)
        if (path.is_dir() or (relative.parts[0] in ("results", ".snakemake", "paper")
                and relative.as_posix() != "paper/published.yaml")
                or "__pycache__" in relative.parts):
            continue
        original = REPO / relative
        if not original.exists() or original.read_bytes() != path.read_bytes():
            changed.add(relative.as_posix())
    return changed


def test_a_fourth_dataset_in_one_place_trains_and_reaches_the_tables(tmp_path):
    repo = copy_repo(tmp_path / "repo")
    declare(repo, toy_images(tmp_path / "raw"))
    assert changed_files(repo) == ALLOWED

    preset = ("--configfile", "workflow/presets/toy.yaml")
    plan = run_snakemake(repo, "-n", "--cores", "1", *preset, own_code=True).stdout
    assert re.search(r"rule renet_train:\n(?:    .*\n)*?    wildcards: dataset=toy, seed=0",
                     plan), plan[-3000:]

    run_snakemake(repo, "--cores", "2", "paper/tables.tex", "results/toy/renet/errors.csv",
                  *preset, own_code=True)
    errors = pd.read_csv(repo / "results/toy/renet/errors.csv")
    row = errors[errors["dataset"] == "toy"]
    assert len(row) == 1 and int(row["n"].iloc[0]) == 1
    assert 0 <= float(row["test_error_percent_mean"].iloc[0]) <= 100
    tables = (repo / "paper/tables.tex").read_text()
    assert "{Toy}" in tables                                     # Table 1's column
    block = tables.split("(d) Toy", 1)[1].split("\\bottomrule", 1)[0]
    reproduced = re.search(r"ReNet \(reproduced\) & ([0-9.]+) & 1 &", block)
    assert reproduced, block
    assert float(reproduced[1]) == pytest.approx(
        float(row["test_error_percent_mean"].iloc[0]), abs=0.005)
