# Rules of the data stage: verified downloads, preprocessing into the processed-dataset format
# (workflow/rnnrepro/data/processed.py) and the fixed permutations of the memory experiment.
import os
import re

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


localrules:
    download,
    permutations,


def raw_file(dataset, filename):
    """Where the verified raw file lives."""
    return f"{DATA}/raw/{dataset}/{filename}"


def processed_arrays(dataset):
    """Every file of a processed dataset except its manifest (which is written last)."""
    return [f"{DATA}/{dataset}/{name}" for name in PROCESSED_ARRAYS]


def raw_identity(dataset):
    """What each raw file is (checksum, gzip_payload); a change here re-downloads it."""
    return {
        name: {"checksum": entry["checksum"], "gzip_payload": entry.get("gzip_payload", False)}
        for name, entry in config["data"]["files"][dataset].items()
    }


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


rule download:
    output:
        f"{DATA}/raw/{{dataset}}/{{filename}}",
    wildcard_constraints:
        dataset="|".join(config["data"]["files"]),
        filename="|".join(
            re.escape(name) for files in config["data"]["files"].values() for name in files
        ),
    params:
        settings=download_identity,
        fetch=download_fetch_settings,
    log:
        f"{RESULTS}/logs/data/download/{{dataset}}/{{filename}}.log",
    conda:
        ENV
    shell:
        "rnnrepro download --output {output:q} --settings {params.settings:q}"
        " --fetch-settings {params.fetch:q} > {log:q} 2>&1"


rule prepare_mnist:
    input:
        **{role: raw_file("mnist", name) for role, name in MNIST_FILES.items()},
    output:
        manifest=f"{DATA}/mnist/manifest.json",
        arrays=processed_arrays("mnist"),
    params:
        folder=lambda wildcards, output: os.path.dirname(output.manifest),
        settings=prepare_settings("mnist"),
    resources:
        mem_mb=4000,
        runtime=30,
    log:
        f"{RESULTS}/logs/data/prepare_mnist.log",
    conda:
        ENV
    shell:
        "rnnrepro prepare-mnist --train-images {input.train_images:q}"
        " --train-labels {input.train_labels:q} --test-images {input.test_images:q}"
        " --test-labels {input.test_labels:q} --output {params.folder:q}"
        " --settings {params.settings:q} > {log:q} 2>&1"


rule prepare_cifar10:
    input:
        archive=raw_file("cifar10", CIFAR10_ARCHIVE),
    output:
        manifest=f"{DATA}/cifar10/manifest.json",
        arrays=processed_arrays("cifar10"),
    params:
        folder=lambda wildcards, output: os.path.dirname(output.manifest),
        settings=prepare_settings("cifar10"),
    resources:
        mem_mb=6000,
        runtime=120,
    log:
        f"{RESULTS}/logs/data/prepare_cifar10.log",
    conda:
        ENV
    shell:
        "rnnrepro prepare-cifar10 --archive {input.archive:q} --output {params.folder:q}"
        " --settings {params.settings:q} > {log:q} 2>&1"


rule prepare_svhn:
    input:
        **{role: raw_file("svhn", name) for role, name in SVHN_FILES.items()},
    output:
        manifest=f"{DATA}/svhn/manifest.json",
        arrays=processed_arrays("svhn"),
    params:
        folder=lambda wildcards, output: os.path.dirname(output.manifest),
        settings=prepare_settings("svhn"),
    resources:
        mem_mb=4096,
        runtime=120,
    log:
        f"{RESULTS}/logs/data/prepare_svhn.log",
    conda:
        ENV
    shell:
        "rnnrepro prepare-svhn --train {input.train:q} --extra {input.extra:q}"
        " --test {input.test:q} --output {params.folder:q} --settings {params.settings:q}"
        " > {log:q} 2>&1"


rule permutations:
    output:
        f"{DATA}/permutations.json",
    params:
        settings=lambda wildcards: settings_json(config["data"]["permutations"]),
    log:
        f"{RESULTS}/logs/data/permutations.log",
    conda:
        ENV
    shell:
        "rnnrepro make-permutations --output {output:q} --settings {params.settings:q}"
        " > {log:q} 2>&1"
