# Rules of the renet stage (Visin et al., 2015): one training job per (dataset, seed) of
# Table 1, the summary CSV behind Table 2 and the learning-curve figure.
#   snakemake results/<preset>/renet/mnist/seed0/metrics.json          one run
#   snakemake results/<preset>/renet/summary.csv paper/figures/renet-curves.pdf
# renet_targets() lists everything the paper stage needs from here; the helpers are in
# common.smk ("renet stage").

localrules:
    renet_summary,
    renet_figure,


# The checkpoint (checkpoint.safetensors) and best-validation weights (best.safetensors) beside
# the outputs are deliberately not outputs: Snakemake deletes the outputs of a failed job, and
# the checkpoint must survive for the retry to resume (or travel in a part archive).
rule renet_train:
    input:
        data=f"{RESULTS}/data/{{dataset}}/manifest.json",
    output:
        history=f"{RENET_RUN}/history.csv",
        metrics=f"{RENET_RUN}/metrics.json",
    priority: 10  # the longest jobs: start them first so they overlap the many short ones
    params:
        settings=renet_job_settings,
        # The job's other files, not outputs: Snakemake deletes a failed job's outputs, and
        # these must survive for the retry to resume: the checkpoint, the best epoch's
        # weights (to evaluate it) and history.partial.csv (the history so far, beside
        # history.csv while the job runs; `rnnrepro progress` reads it). Once finished, the
        # job deletes the checkpoint and keeps the best weights (the model the numbers are of).
        checkpoint=f"{RENET_RUN}/{job_paths.CHECKPOINT_FILE}",
        best=f"{RENET_RUN}/{job_paths.BEST_FILE}",
        **cache_key("renet"),
    cache: TRAINING_CACHE
    wildcard_constraints:
        dataset="|".join(RENET_DATASET_NAMES),
        seed=r"\d+",
    log:
        RENET_LOG,
    threads: RENET["threads"]
    resources:
        gpu=1,
        runtime=time_limit("renet_train", lambda w: job_time.renet_work(config, w.dataset)),
        mem_mb=scaled("renet_train", "mem_mb"),
        # How fast, not what: resources, so neither a rerun trigger nor in the cache key.
        speed=renet_job_speed,
        device=config["device"],
    conda:
        ENV
    shell:
        "rnnrepro renet-train --data {input.data:q} --dataset {wildcards.dataset}"
        " --seed {wildcards.seed} --settings {params.settings:q} --speed {resources.speed:q}"
        " --device {resources.device}"
        " --threads {threads} --history {output.history:q} --metrics {output.metrics:q}"
        " --checkpoint {params.checkpoint:q} --best {params.best:q} > {log:q} 2>&1"


rule renet_summary:
    input:
        metrics=renet_run_outputs("metrics.json"),
    output:
        summary=RENET_SUMMARY,
        errors=RENET_ERRORS,
    log:
        f"{RESULTS}/logs/renet/summary.log",
    conda:
        ENV
    shell:
        "rnnrepro renet-summary --metrics {input.metrics:q} --output {output.summary:q}"
        " --errors {output.errors:q} > {log:q} 2>&1"


rule renet_figure:
    input:
        metrics=renet_run_outputs("metrics.json"),
        histories=renet_run_outputs("history.csv"),
    output:
        pdf="paper/figures/renet-curves.pdf",
        png=report(
            "paper/figures/renet-curves.png",
            caption="../report/renet-curves.rst",
            category="Figures",
            labels={"figure": "ReNet learning curves"},
        ),
    log:
        f"{RESULTS}/logs/renet/figure.log",
    conda:
        ENV
    shell:
        "rnnrepro renet-figure --metrics {input.metrics:q} --histories {input.histories:q}"
        " --output {output.pdf:q} --png {output.png:q} > {log:q} 2>&1"
