# Shared helpers of the stage files: result paths, settings passed to commands, resources.
import json
import os
import re
import subprocess

from rnnrepro.sharing import imported as imported_runs
from rnnrepro.sharing import training as training_jobs
from rnnrepro.sharing.code import code_digest

RESULTS = "results"
ENV = "../../envs/rnnrepro.yaml"


def settings_json(section):
    """Compact JSON of a config section for a command's --settings argument."""
    return json.dumps(section, sort_keys=True, separators=(",", ":"))


def lr_label(lr):
    """3e-05 style label used in result paths and variant names (as in the paper's Table 3)."""
    return f"{float(lr):g}"


def git_commit():
    """The checked-out commit (with -dirty for uncommitted changes), or 'unknown'."""
    try:
        described = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=12"], cwd=workflow.basedir,
            capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return described.stdout.strip() if described.returncode == 0 else "unknown"


# ---- training runs: imported ones, the output cache's key
# Runs imported from a results archive (`rnnrepro results unpack`), used where the config agrees.
IMPORTED = imported_runs.load(RESULTS, config)


def training_output(path):
    """A training output as the summaries read it: the run's own file, or its imported copy."""
    return IMPORTED.path(path) if IMPORTED else path


def cache_key(stage):
    """Params that make the output cache's key complete: Snakemake hashes a cached job's
    command, params and inputs, but not its wildcards nor the Python its command imports."""
    return {"job": lambda wildcards: dict(wildcards.items()),
            "code": code_digest(f"rnnrepro.{stage}.train")}


def scaled(rule_name, key):
    """A resource from config['resources'][rule_name] that grows with the retry attempt."""
    base = config["resources"][rule_name][key]
    return lambda wildcards, attempt: base * attempt


# ---- data stage: raw files, processed datasets, download settings
DATA = f"{RESULTS}/data"
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"
SVHN_FILES = {"train": "train_32x32.mat", "extra": "extra_32x32.mat", "test": "test_32x32.mat"}
PROCESSED_ARRAYS = [
    f"{split}_{kind}.npy"
    for split in ("train", "validation", "test")
    for kind in ("images", "labels")
] + ["normalization.npz"]


def raw_file(dataset, filename):
    """Where the verified raw file lives."""
    return f"{DATA}/raw/{dataset}/{filename}"


def processed_arrays(dataset):
    """Every file of a processed dataset except its manifest (which is written last)."""
    return [f"{DATA}/{dataset}/{name}" for name in PROCESSED_ARRAYS]


def raw_identity(dataset):
    """What each raw file is (checksum, gzip_payload); a change here re-downloads it."""
    return training_jobs.raw_identity(config, dataset)


def raw_entry(wildcards):
    """The config entry of one raw file (checksum, gzip_payload, sources)."""
    entry = config["data"]["files"].get(wildcards.dataset, {}).get(wildcards.filename)
    if entry is None:
        raise ValueError(
            f"no raw file data.files.{wildcards.dataset}.{wildcards.filename} in the config"
        )
    return entry


def download_identity(wildcards):
    raw_entry(wildcards)  # a clear error for a file the config does not list
    return settings_json(raw_identity(wildcards.dataset)[wildcards.filename])


def download_fetch_settings(wildcards, output):
    # Where a file comes from does not change what it is (the checksum does). Taking `output`
    # as an argument makes Snakemake treat this parameter as derived from the output, so
    # editing sources or data.local_dir does not re-trigger downloads and everything after.
    data = config["data"]
    return settings_json(
        {"sources": raw_entry(wildcards)["sources"], "local_dir": data["local_dir"],
         **data["download"]}
    )


def prepare_settings(dataset):
    return lambda wildcards: settings_json(
        {**config["data"][dataset], "files": raw_identity(dataset)}
    )


def data_targets():
    """Manifests of MNIST and the ReNet datasets, and the permutations file."""
    datasets = dict.fromkeys(["mnist", *config["renet"]["datasets"]])
    return [f"{DATA}/{dataset}/manifest.json" for dataset in datasets] + [
        f"{DATA}/permutations.json"
    ]
