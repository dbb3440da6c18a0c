"""The data rules through Snakemake: the quick preset fetches MNIST offline from the bundled
sample and preprocesses it; a --configfile with only data.local_dir merges into the config."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ["results/quick/data/mnist/manifest.json", "results/quick/data/permutations.json"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("snakemake") is None, reason="snakemake not installed"),
]


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(["snakemake", "--cores", "1", *args], cwd=workdir, text=True,
                            capture_output=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A working directory like a fresh clone (the pipeline's files, no results)."""
    for name in ("Snakefile", "config.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    for name in ("workflow", "envs", "profiles"):
        (tmp_path / name).symlink_to(ROOT / name, target_is_directory=True)
    return tmp_path


def test_quick_preset_prepares_mnist_offline(workdir):
    snakemake(workdir, *TARGETS, "--configfile", "workflow/presets/quick.yaml")
    quick = yaml.safe_load((ROOT / "workflow/presets/quick.yaml").read_text())
    for name, entry in quick["data"]["files"]["mnist"].items():
        payload = gzip.decompress((workdir / "results/quick/data/raw/mnist" / name).read_bytes())
        assert entry["checksum"] == "sha256:" + hashlib.sha256(payload).hexdigest()
    manifest = json.loads((workdir / TARGETS[0]).read_text())
    sizes = {split: manifest["splits"][split]["size"] for split in manifest["splits"]}
    assert sizes == quick["data"]["mnist"]["splits"]
    assert json.loads((workdir / TARGETS[1]).read_text())["count"] == 3

    # Pointing the pipeline at a folder of downloads: a config file holding only this key is
    # deep-merged (files, sources and splits stay), and it does not make anything outdated.
    (workdir / "local.yaml").write_text("data:\n  local_dir: /srv/mnist-downloads\n")
    configs = ["--configfile", "workflow/presets/quick.yaml", "local.yaml"]
    dry = snakemake(workdir, *TARGETS, "-n", *configs)
    assert "Nothing to be done" in dry.stdout + dry.stderr
    forced = snakemake(workdir, "results/quick/data/raw/mnist/t10k-labels-idx1-ubyte.gz", "-n",
                       "-p",
                       "--forcerun", "download", *configs)
    command = next(line for line in (forced.stdout + forced.stderr).splitlines()
                   if "rnnrepro download" in line)
    assert '"local_dir":"/srv/mnist-downloads"' in command
    assert '"sources":["workflow/resources/mnist-sample"]' in command
    assert quick["data"]["files"]["mnist"]["t10k-labels-idx1-ubyte.gz"]["checksum"] in command


def test_a_failed_download_shows_its_error_on_the_terminal(workdir):
    """The job's log (here: every source failed, and where to put the file) is printed by
    Snakemake itself, from the workflow profile's show-failed-logs."""
    entry = yaml.safe_load((ROOT / "config.yaml").read_text())["data"]["files"]["mnist"][
        "t10k-labels-idx1-ubyte.gz"]
    config = {"data": {"download": {"attempts": 1, "backoff_seconds": 0.0,
                                    "timeout_seconds": 5},
                       "files": {"mnist": {"t10k-labels-idx1-ubyte.gz": {
                           **entry, "sources": ["http://127.0.0.1:9/t10k-labels-idx1-ubyte.gz"]}}}}}
    (workdir / "unreachable.yaml").write_text(yaml.safe_dump(config))
    done = subprocess.run(["snakemake", "--cores", "1",
                           "results/full/data/raw/mnist/t10k-labels-idx1-ubyte.gz",
                           "--configfile", "unreachable.yaml"], cwd=workdir, text=True,
                          capture_output=True, timeout=300)
    terminal = done.stdout + done.stderr
    assert done.returncode != 0
    assert "every source failed" in terminal
    assert "http://127.0.0.1:9/t10k-labels-idx1-ubyte.gz" in terminal
    assert str(workdir / "results/full/data/raw/mnist/t10k-labels-idx1-ubyte.gz") in terminal
