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


# Any dataset, by its reader rnnrepro.data.<dataset> (RAW_FILES, prepare): a new dataset
# needs its reader and its config (data.files.<dataset>, data.<dataset>), not a rule.
rule prepare_dataset:
    input:
        raw=raw_files,
    output:
        manifest=f"{DATA}/{{dataset}}/manifest.json",
        arrays=[f"{DATA}/{{dataset}}/{name}" for name in PROCESSED_ARRAYS],
    wildcard_constraints:
        dataset="|".join(config["data"]["files"]),
    params:
        folder=manifest_folder,
        settings=prepare_settings,
    resources:
        # The largest dataset's needs (CIFAR-10's ZCA: 6 GB; SVHN: 2 h on a slow node).
        mem_mb=6000,
        runtime=120,
    log:
        f"{RESULTS}/logs/data/prepare/{{dataset}}.log",
    conda:
        ENV
    shell:
        "rnnrepro prepare --dataset {wildcards.dataset} --raw {input.raw:q}"
        " --output {params.folder:q} --settings {params.settings:q} > {log:q} 2>&1"


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
