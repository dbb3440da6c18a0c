# Rules of the memory stage (Kolesau et al., sec. 3.2): MNIST in 13 sequence representations,
# one IRNN training job per (representation, learning rate, seed), latency, Tables 1-4, Figs. 8-9.
#   snakemake results/memory/transposed/lr3e-05/seed0/metrics.json      one run
#   snakemake memory_summary paper/figures/memory-curves.pdf              tables, one figure
# memory_targets() lists everything the paper stage needs from here.
import shlex

MEMORY = config["memory"]
MEMORY_SUMMARY = f"{RESULTS}/memory/summary"
MNIST_MANIFEST = f"{RESULTS}/data/mnist/manifest.json"
MNIST_PERMUTATIONS = f"{RESULTS}/data/permutations.json"
# Settings of one run (rnnrepro.sharing.training: the keys a run depends on, with
# memory.pixel_runs applied to the 784-step runs; a sweep change never reruns other runs).
memory_run_settings = lambda representation: settings_json(
    training_jobs.memory_run_settings(config, representation))
MEMORY_FIGURES = {"gallery_index": 0, "sample_digits": 20, **MEMORY.get("figures", {})}
# Folder of every configured run: results/memory/<representation>/lr<lr>/seed<seed>.
MEMORY_RUNS = [
    f"{RESULTS}/memory/{rep}/lr{lr_label(lr)}/seed{seed}"
    for rep in MEMORY["representations"]
    for lr in MEMORY["learning_rates"]
    for seed in MEMORY["seeds"]
]
# The files of one run: the archive's content and the cache's entry.
MEMORY_RUN_FILES = ("history.csv", "metrics.json", "latency.csv")
MEMORY_TRAINING_OUTPUTS = [
    training_output(f"{run}/{name}") for run in MEMORY_RUNS for name in MEMORY_RUN_FILES
]
MEMORY_TARGETS = [
    f"{MEMORY_SUMMARY}/table2_latency.csv",
    f"{MEMORY_SUMMARY}/table3_runs.csv",
    f"{MEMORY_SUMMARY}/table4_best.csv",
    f"{MEMORY_SUMMARY}/curves.csv",
    f"{MEMORY_SUMMARY}/epochs.csv",
    f"{MEMORY_SUMMARY}/notes.json",
    "paper/figures/memory-curves.pdf",
    "paper/figures/memory-representations.pdf",
    "paper/figures/memory-samples.pdf",
]
# Everything the paper stage needs from this stage: summary tables and figure PDFs. (Lambdas,
# not defs: `snakemake --lint` wants functions kept out of files with rules.)
memory_targets = lambda: list(MEMORY_TARGETS)


localrules:
    memory_summary,
    memory_figure_curves,
    memory_figure_gallery,
    memory_figure_samples,


rule memory_train:
    input:
        data=MNIST_MANIFEST,
        # The permutations file, for the permuted representations only.
        permutations=lambda w: [MNIST_PERMUTATIONS] if "-perm" in w.representation else [],
    output:
        history=f"{RESULTS}/memory/{{representation}}/lr{{lr}}/seed{{seed}}/history.csv",
        metrics=f"{RESULTS}/memory/{{representation}}/lr{{lr}}/seed{{seed}}/metrics.json",
        latency=f"{RESULTS}/memory/{{representation}}/lr{{lr}}/seed{{seed}}/latency.csv",
    params:
        settings=lambda w: memory_run_settings(w.representation),
        permutations=lambda w, input: (
            f"--permutations {shlex.quote(input.permutations[0])}" if input.permutations else ""
        ),
        device=config["device"],
        **cache_key("memory"),
    cache: True
    wildcard_constraints:
        representation=r"[a-z]+(-[a-z]+)?(-perm\d+)?",
        lr=r"[0-9.e+-]+",
        seed=r"\d+",
    log:
        f"{RESULTS}/logs/memory/{{representation}}/lr{{lr}}/seed{{seed}}.log",
    threads: 1
    resources:
        gpu=1,
        runtime=scaled("memory_train", "runtime"),
        mem_mb=scaled("memory_train", "mem_mb"),
    conda:
        ENV
    shell:
        "rnnrepro memory-train --data {input.data:q} {params.permutations}"
        " --representation {wildcards.representation} --learning-rate {wildcards.lr}"
        " --seed {wildcards.seed} --settings {params.settings:q} --device {params.device}"
        " --threads {threads} --history {output.history:q} --metrics {output.metrics:q}"
        " --latency {output.latency:q} > {log:q} 2>&1"


rule memory_summary:
    input:
        metrics=[training_output(f"{run}/metrics.json") for run in MEMORY_RUNS],
        histories=[training_output(f"{run}/history.csv") for run in MEMORY_RUNS],
    output:
        table2=f"{MEMORY_SUMMARY}/table2_latency.csv",
        table3=f"{MEMORY_SUMMARY}/table3_runs.csv",
        table4=f"{MEMORY_SUMMARY}/table4_best.csv",
        curves=f"{MEMORY_SUMMARY}/curves.csv",
        epochs=f"{MEMORY_SUMMARY}/epochs.csv",
        notes=f"{MEMORY_SUMMARY}/notes.json",
    params:
        settings=lambda w: settings_json({"preset": config["preset"], "memory": MEMORY}),
    log:
        f"{RESULTS}/logs/memory/summary.log",
    conda:
        ENV
    shell:
        "rnnrepro memory-summary --metrics {input.metrics:q} --table2 {output.table2:q}"
        " --table3 {output.table3:q} --table4 {output.table4:q} --curves {output.curves:q}"
        " --epochs {output.epochs:q} --notes {output.notes:q} --settings {params.settings:q}"
        " > {log:q} 2>&1"


rule memory_figure_curves:
    input:
        curves=f"{MEMORY_SUMMARY}/curves.csv",
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
        " > {log:q} 2>&1"


rule memory_figure_gallery:
    input:
        data=MNIST_MANIFEST,
        permutations=MNIST_PERMUTATIONS,
    output:
        pdf="paper/figures/memory-representations.pdf",
        png=report(
            "paper/figures/memory-representations.png",
            caption="../report/memory-representations.rst",
            category="Figures",
            labels={"figure": "memory: representations (Table 1)"},
        ),
    params:
        settings=lambda w: settings_json({
            "representations": MEMORY["representations"],
            "gallery_index": MEMORY_FIGURES["gallery_index"],
        }),
    log:
        f"{RESULTS}/logs/memory/figure-representations.log",
    conda:
        ENV
    shell:
        "rnnrepro memory-figure-gallery --data {input.data:q}"
        " --permutations {input.permutations:q} --settings {params.settings:q}"
        " --output {output.pdf:q} > {log:q} 2>&1"


rule memory_figure_samples:
    input:
        data=MNIST_MANIFEST,
    output:
        pdf="paper/figures/memory-samples.pdf",
        png=report(
            "paper/figures/memory-samples.png",
            caption="../report/memory-samples.rst",
            category="Figures",
            labels={"figure": "memory: MNIST samples (Fig. 8)"},
        ),
    params:
        settings=lambda w: settings_json({"sample_digits": MEMORY_FIGURES["sample_digits"]}),
    log:
        f"{RESULTS}/logs/memory/figure-samples.log",
    conda:
        ENV
    shell:
        "rnnrepro memory-figure-samples --data {input.data:q} --settings {params.settings:q}"
        " --output {output.pdf:q} > {log:q} 2>&1"
