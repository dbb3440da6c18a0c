# Rules of the data stage: verified downloads, preprocessing into the processed-dataset format
# (workflow/rnnrepro/data/processed.py) and the fixed permutations of the memory experiment.

localrules:
    download,
    permutations,


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
        folder=manifest_folder,
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
        folder=manifest_folder,
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
        folder=manifest_folder,
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
        settings=permutations_settings,
    log:
        f"{RESULTS}/logs/data/permutations.log",
    conda:
        ENV
    shell:
        "rnnrepro make-permutations --output {output:q} --settings {params.settings:q}"
        " > {log:q} 2>&1"
