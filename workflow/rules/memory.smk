# Rules of the memory stage (Kolesau et al., sec. 3.2): MNIST in 13 sequence representations,
# one IRNN training job per (representation, learning rate, seed), latency, Tables 1-4, Figs. 8-9.
#   snakemake results/<preset>/memory/transposed/lr3e-05/seed0/metrics.json      one run
#   snakemake memory_summary paper/figures/memory-curves.pdf              tables, one figure
# memory_targets() lists everything the paper stage needs from here; the helpers are in
# common.smk ("memory stage"), and run names in rnnrepro.memory.runs. memory.representations: []
# leaves the stage out: no training job, empty summaries, figures that say it was not run.


localrules:
    memory_summary,
    memory_figure_curves,
    memory_figure_gallery,
    memory_figure_samples,


rule memory_train:
    input:
        data=MNIST_MANIFEST,
        permutations=memory_permutations,
    output:
        history=f"{MEMORY_RUN}/history.csv",
        metrics=f"{MEMORY_RUN}/metrics.json",
        latency=f"{MEMORY_RUN}/latency.csv",
    params:
        settings=memory_run_settings,
        permutations=memory_permutations_arg,
        # The job's other files, not outputs: Snakemake deletes a failed job's outputs, and
        # these must survive for the retry to resume: the checkpoint, the best epoch's
        # weights (to evaluate it) and history.partial.csv (the history so far, beside
        # history.csv while the job runs; `rnnrepro progress` reads it). Once finished, the
        # job deletes the checkpoint and keeps the best weights (the model the numbers are of).
        checkpoint=f"{MEMORY_RUN}/{job_paths.CHECKPOINT_FILE}",
        best=f"{MEMORY_RUN}/{job_paths.BEST_FILE}",
        **cache_key("memory"),
    cache: TRAINING_CACHE
    wildcard_constraints:
        representation=memory_representations.NAME_PATTERN,
        lr=r"[0-9.e+-]+",
        seed=r"\d+",
    log:
        MEMORY_LOG,
    threads: 1
    resources:
        gpu=1,
        runtime=time_limit(
            "memory_train", lambda w: job_time.memory_work(config, w.representation)
        ),
        mem_mb=scaled("memory_train", "mem_mb"),
        # How fast, not what: resources, so neither a rerun trigger nor in the cache key.
        speed=memory_run_speed,
        device=config["device"],
    conda:
        ENV
    shell:
        "rnnrepro memory-train --data {input.data:q} {params.permutations}"
        " --representation {wildcards.representation} --learning-rate {wildcards.lr}"
        " --seed {wildcards.seed} --settings {params.settings:q} --speed {resources.speed:q}"
        " --device {resources.device}"
        " --threads {threads} --history {output.history:q} --metrics {output.metrics:q}"
        " --latency {output.latency:q} --checkpoint {params.checkpoint:q} --best {params.best:q}"
        " > {log:q} 2>&1"


rule memory_summary:
    input:
        metrics=memory_run_outputs("metrics.json"),
        histories=memory_run_outputs("history.csv"),
    output:
        **MEMORY_SUMMARY_OUTPUTS,
    params:
        settings=memory_summary_settings,
    log:
        f"{RESULTS}/logs/memory/summary.log",
    conda:
        ENV
    shell:
        "rnnrepro memory-summary --metrics {input.metrics:q} --histories {input.histories:q}"
        " --table2 {output.table2:q} --table3 {output.table3:q}"
        " --variants {output.variants:q} --groups {output.groups:q}"
        " --table4 {output.table4:q} --curves {output.curves:q}"
        " --epochs {output.epochs:q} --notes {output.notes:q} --settings {params.settings:q}"
        " > {log:q} 2>&1"


rule memory_figure_curves:
    input:
        curves=MEMORY_SUMMARY_OUTPUTS["curves"],
    output:
        pdf="paper/figures/memory-curves.pdf",
        png=report(
            "paper/figures/memory-curves.png",
            caption="../report/memory-curves.rst",
            category="Figures",
            labels={"figure": "memory: training curves (Fig. 9)"},
        ),
    log:
        f"{RESULTS}/logs/memory/figure-curves.log",
    conda:
        ENV
    shell:
        "rnnrepro memory-figure-curves --curves {input.curves:q} --output {output.pdf:q}"
        " --png {output.png:q} > {log:q} 2>&1"


rule memory_figure_gallery:
    input:
        data=memory_figure_input(MNIST_MANIFEST),
        permutations=memory_figure_input(MNIST_PERMUTATIONS),
    output:
        pdf="paper/figures/memory-representations.pdf",
        png=report(
            "paper/figures/memory-representations.png",
            caption="../report/memory-representations.rst",
            category="Figures",
            labels={"figure": "memory: representations (Table 1)"},
        ),
    params:
        settings=memory_gallery_settings,
    log:
        f"{RESULTS}/logs/memory/figure-representations.log",
    conda:
        ENV
    shell:
        "rnnrepro memory-figure-gallery --data {input.data:q}"
        " --permutations {input.permutations:q} --settings {params.settings:q}"
        " --output {output.pdf:q} --png {output.png:q} > {log:q} 2>&1"


rule memory_figure_samples:
    input:
        data=memory_figure_input(MNIST_MANIFEST),
    output:
        pdf="paper/figures/memory-samples.pdf",
        png=report(
            "paper/figures/memory-samples.png",
            caption="../report/memory-samples.rst",
            category="Figures",
            labels={"figure": "memory: MNIST samples (Fig. 8)"},
        ),
    params:
        settings=memory_samples_settings,
    log:
        f"{RESULTS}/logs/memory/figure-samples.log",
    conda:
        ENV
    shell:
        "rnnrepro memory-figure-samples --data {input.data:q} --settings {params.settings:q}"
        " --output {output.pdf:q} --png {output.png:q} > {log:q} 2>&1"
