# Rules of the increment stage: Kolesau et al., sec. 3.1 (Figs. 5-7).
# Per (K, N): a permutation (the "complicated" digit order) and a hold-out set, shared by every
# job of the task; one training job per order x cell x seed; one summary CSV; one figure per task.
#   snakemake results/increment/K10-N7/complicated/gru/seed0/metrics.json     one job
#   snakemake paper/figures/increment-K10-N7.pdf                             one figure (Fig. 6)
# increment_targets() lists everything the paper stage needs from here.
import shlex

INCREMENT = config["increment"]
INCREMENT_DIR = f"{RESULTS}/increment"
INCREMENT_LOGS = f"{RESULTS}/logs/increment"
INCREMENT_TASK_WILDCARDS = {"base": r"\d+", "digits": r"\d+"}
INCREMENT_WILDCARDS = {
    **INCREMENT_TASK_WILDCARDS,
    "order": "simple|complicated",
    "cell": "rnn|lstm|gru",
    "seed": r"\d+",
}
# Settings each command receives: only the keys its output depends on, so adding a task or seed
# to the grid reruns nothing that exists (training keys: rnnrepro.sharing.training).
# (Lambdas, not defs: `snakemake --lint` wants functions kept out of files with rules.)
# --settings JSON holding the given keys of the increment section.
increment_settings = lambda *keys: settings_json({key: INCREMENT[key] for key in keys})
# `filename` of every training job of task (K, N): orders x cells x seeds (imported or trained).
increment_runs = lambda base, digits, filename: [training_output(path) for path in expand(
    f"{INCREMENT_DIR}/K{base}-N{digits}/{{order}}/{{cell}}/seed{{seed}}/{filename}",
    order=INCREMENT["orders"], cell=INCREMENT["cells"], seed=INCREMENT["seeds"])]
# The files of every run: the archive's content.
INCREMENT_TRAINING_OUTPUTS = [
    path for t in INCREMENT["tasks"] for name in ("history.csv", "metrics.json")
    for path in increment_runs(t["base"], t["digits"], name)
]
# Everything the paper stage needs from this stage: the summary CSV and one figure per (K, N).
increment_targets = lambda: [
    f"{INCREMENT_DIR}/summary.csv", f"{INCREMENT_DIR}/evaluations.csv"] + [
    f"paper/figures/increment-K{t['base']}-N{t['digits']}.pdf" for t in INCREMENT["tasks"]]


localrules:
    increment_permutation,
    increment_holdout,
    increment_summary,
    increment_figure,


rule increment_permutation:
    output:
        f"{INCREMENT_DIR}/K{{base}}-N{{digits}}/permutation.json",
    params:
        settings=lambda w: increment_settings(*training_jobs.INCREMENT_PERMUTATION_KEYS),
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
        f"{INCREMENT_DIR}/K{{base}}-N{{digits}}/holdout.npz",
    params:
        settings=lambda w: increment_settings(*training_jobs.INCREMENT_HOLDOUT_KEYS),
    log:
        f"{INCREMENT_LOGS}/K{{base}}-N{{digits}}/holdout.log",
    wildcard_constraints:
        **INCREMENT_TASK_WILDCARDS,
    conda:
        ENV
    shell:
        "rnnrepro increment-holdout --base {wildcards.base} --digits {wildcards.digits}"
        " --settings {params.settings:q} --output {output:q} > {log:q} 2>&1"


# Outputs are the final files only: the checkpoint (checkpoint.pt beside them) must survive a
# failed or preempted attempt, which Snakemake would delete if it were an output.
rule increment_train:
    input:
        holdout=f"{INCREMENT_DIR}/K{{base}}-N{{digits}}/holdout.npz",
        # The digit order, for the complicated order only.
        permutation=lambda w: (
            [f"{INCREMENT_DIR}/K{w.base}-N{w.digits}/permutation.json"]
            if w.order == "complicated" else []),
    output:
        history=f"{INCREMENT_DIR}/K{{base}}-N{{digits}}/{{order}}/{{cell}}/seed{{seed}}/history.csv",
        metrics=f"{INCREMENT_DIR}/K{{base}}-N{{digits}}/{{order}}/{{cell}}/seed{{seed}}/metrics.json",
    params:
        settings=lambda w: settings_json(training_jobs.increment_train_settings(config)),
        permutation=lambda w, input: (
            f"--permutation {shlex.quote(input.permutation[0])}" if input.permutation else ""),
        checkpoint=f"{INCREMENT_DIR}/K{{base}}-N{{digits}}/{{order}}/{{cell}}/seed{{seed}}/checkpoint.pt",
        device=config["device"],
        **cache_key("increment"),
    cache: True
    log:
        f"{INCREMENT_LOGS}/K{{base}}-N{{digits}}/{{order}}-{{cell}}-seed{{seed}}.log",
    wildcard_constraints:
        **INCREMENT_WILDCARDS,
    threads: 1
    resources:
        gpu=1,
        runtime=scaled("increment_train", "runtime"),
        mem_mb=scaled("increment_train", "mem_mb"),
    conda:
        ENV
    shell:
        "rnnrepro increment-train --base {wildcards.base} --digits {wildcards.digits}"
        " --order {wildcards.order} --cell {wildcards.cell} --seed {wildcards.seed}"
        " --settings {params.settings:q} --holdout {input.holdout:q} {params.permutation}"
        " --history {output.history:q} --metrics {output.metrics:q}"
        " --checkpoint {params.checkpoint:q} --device {params.device} --threads {threads}"
        " > {log:q} 2>&1"


rule increment_summary:
    input:
        metrics=[
            path
            for t in INCREMENT["tasks"]
            for path in increment_runs(t["base"], t["digits"], "metrics.json")
        ],
        history=[
            path
            for t in INCREMENT["tasks"]
            for path in increment_runs(t["base"], t["digits"], "history.csv")
        ],
    output:
        summary=f"{INCREMENT_DIR}/summary.csv",
        evaluations=f"{INCREMENT_DIR}/evaluations.csv",
    log:
        f"{INCREMENT_LOGS}/summary.log",
    conda:
        ENV
    shell:
        "rnnrepro increment-summary --metrics {input.metrics:q} --history {input.history:q}"
        " --output {output.summary:q} --evaluations {output.evaluations:q} > {log:q} 2>&1"


rule increment_figure:
    input:
        history=lambda w: increment_runs(w.base, w.digits, "history.csv"),
        metrics=lambda w: increment_runs(w.base, w.digits, "metrics.json"),
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
        " > {log:q} 2>&1"
