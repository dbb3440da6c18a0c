# Rules of the increment stage: Kolesau et al., sec. 3.1 (Figs. 5-7).
# Per (K, N): a permutation (the "complicated" digit order) and a hold-out set, shared by every
# job of the task; one training job per order x cell x seed; one summary CSV; one figure per task.
#   snakemake results/<preset>/increment/K10-N7/complicated/gru/seed0/metrics.json     one job
#   snakemake paper/figures/increment-K10-N7.pdf                             one figure (Fig. 6)
# increment_targets() lists everything the paper stage needs from here; the helpers are in
# common.smk ("increment stage").


localrules:
    increment_permutation,
    increment_holdout,
    increment_summary,
    increment_figure,


rule increment_permutation:
    output:
        f"{INCREMENT_TASK}/permutation.json",
    params:
        settings=increment_permutation_settings,
    log:
        f"{INCREMENT_LOGS}/K{{base}}-N{{digits}}/permutation.log",
    wildcard_constraints:
        **INCREMENT_TASK_WILDCARDS,
    conda:
        ENV
    shell:
        "rnnrepro increment-permutation --base {wildcards.base} --digits {wildcards.digits}"
        " --settings {params.settings:q} --output {output:q} > {log:q} 2>&1"


rule increment_holdout:
    output:
        f"{INCREMENT_TASK}/holdout.npz",
    params:
        settings=increment_holdout_settings,
    log:
        f"{INCREMENT_LOGS}/K{{base}}-N{{digits}}/holdout.log",
    wildcard_constraints:
        **INCREMENT_TASK_WILDCARDS,
    conda:
        ENV
    shell:
        "rnnrepro increment-holdout --base {wildcards.base} --digits {wildcards.digits}"
        " --settings {params.settings:q} --output {output:q} > {log:q} 2>&1"


# Outputs are the final files only: the checkpoint (checkpoint.safetensors beside them) must
# survive a failed or preempted attempt, which Snakemake would delete if it were an output.
rule increment_train:
    input:
        holdout=f"{INCREMENT_TASK}/holdout.npz",
        permutation=increment_permutation,
    output:
        history=f"{INCREMENT_RUN}/history.csv",
        metrics=f"{INCREMENT_RUN}/metrics.json",
    params:
        settings=increment_train_settings,
        permutation=increment_permutation_arg,
        # The job's other files, not outputs: Snakemake deletes a failed job's outputs, and
        # these must survive for the retry to resume: the checkpoint, and
        # history.partial.csv (the history so far, written beside history.csv while the job
        # runs; `rnnrepro progress` reads it). The job deletes the checkpoint once finished.
        checkpoint=f"{INCREMENT_RUN}/{job_paths.CHECKPOINT_FILE}",
        **cache_key("increment"),
    cache: TRAINING_CACHE
    log:
        INCREMENT_LOG,
    wildcard_constraints:
        **INCREMENT_WILDCARDS,
    threads: 1
    resources:
        gpu=1,
        runtime=time_limit(
            "increment_train",
            lambda w: job_time.increment_work(config, int(w.base), int(w.digits), w.cell),
        ),
        mem_mb=scaled("increment_train", "mem_mb"),
        # How fast, not what: resources, so neither a rerun trigger nor in the cache key.
        speed=increment_train_speed,
        device=config["device"],
    conda:
        ENV
    shell:
        "rnnrepro increment-train --base {wildcards.base} --digits {wildcards.digits}"
        " --order {wildcards.order} --cell {wildcards.cell} --seed {wildcards.seed}"
        " --settings {params.settings:q} --speed {resources.speed:q}"
        " --holdout {input.holdout:q} {params.permutation}"
        " --history {output.history:q} --metrics {output.metrics:q}"
        " --checkpoint {params.checkpoint:q} --device {resources.device} --threads {threads}"
        " > {log:q} 2>&1"


rule increment_summary:
    input:
        metrics=increment_all_runs("metrics.json"),
        history=increment_all_runs("history.csv"),
    output:
        summary=INCREMENT_SUMMARY,
        evaluations=INCREMENT_EVALUATIONS,
    log:
        f"{INCREMENT_LOGS}/summary.log",
    conda:
        ENV
    shell:
        "rnnrepro increment-summary --metrics {input.metrics:q} --history {input.history:q}"
        " --output {output.summary:q} --evaluations {output.evaluations:q} > {log:q} 2>&1"


rule increment_figure:
    input:
        history=increment_task_histories,
        metrics=increment_task_metrics,
    output:
        pdf="paper/figures/increment-K{base}-N{digits}.pdf",
        png=report(
            "paper/figures/increment-K{base}-N{digits}.png",
            caption="../report/increment-curves.rst",
            category="Figures",
            labels={"figure": "increment: K={base}, N={digits} (Figs. 5-7)"},
        ),
    log:
        f"{INCREMENT_LOGS}/K{{base}}-N{{digits}}/figure.log",
    wildcard_constraints:
        **INCREMENT_TASK_WILDCARDS,
    conda:
        ENV
    shell:
        "rnnrepro increment-figure --base {wildcards.base} --digits {wildcards.digits}"
        " --history {input.history:q} --metrics {input.metrics:q} --output {output.pdf:q}"
        " --png {output.png:q} > {log:q} 2>&1"
