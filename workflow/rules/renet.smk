# Rules of the renet stage (Visin et al., 2015): one training job per (dataset, seed) of
# Table 1, the summary CSV behind Table 2 and the learning-curve figure.
#   snakemake results/renet/mnist/seed0/metrics.json          one run
#   snakemake results/renet/summary.csv paper/figures/renet-curves.pdf
# renet_targets() lists everything the paper stage needs from here.

RENET = config["renet"]
# Folder of every configured run: results/renet/<dataset>/seed<seed>.
RENET_RUNS = [f"{RESULTS}/renet/{d}/seed{s}" for d in RENET["datasets"] for s in RENET["seeds"]]
RENET_TARGETS = [f"{RESULTS}/renet/summary.csv", "paper/figures/renet-curves.pdf"]
# Everything the paper stage needs from this stage. (Lambdas, not defs: `snakemake --lint`
# wants functions kept out of files with rules.)
renet_targets = lambda: list(RENET_TARGETS)
# What one job depends on: its dataset's model (Table 1), the training settings and the subset.
renet_job_settings = lambda w: settings_json(training_jobs.renet_run_settings(config, w.dataset))
# The files of one run: the archive's content and the cache's entry.
RENET_TRAINING_OUTPUTS = [
    training_output(f"{run}/{name}") for run in RENET_RUNS
    for name in ("history.csv", "metrics.json")
]


localrules:
    renet_summary,
    renet_figure,


# The checkpoint (checkpoint.pt) and best-validation weights (best.pt) beside the outputs are
# deliberately not outputs: Snakemake deletes the outputs of a failed job, and the checkpoint
# must survive for the retry to resume.
rule renet_train:
    input:
        data=f"{RESULTS}/data/{{dataset}}/manifest.json",
    output:
        history=f"{RESULTS}/renet/{{dataset}}/seed{{seed}}/history.csv",
        metrics=f"{RESULTS}/renet/{{dataset}}/seed{{seed}}/metrics.json",
    priority: 10  # the longest jobs: start them first so they overlap the many short ones
    params:
        settings=renet_job_settings,
        device=config["device"],
        **cache_key("renet"),
    cache: True
    wildcard_constraints:
        dataset="mnist|cifar10|svhn",
        seed=r"\d+",
    log:
        f"{RESULTS}/logs/renet/{{dataset}}/seed{{seed}}.log",
    threads: RENET["threads"]
    resources:
        gpu=1,
        runtime=scaled("renet_train", "runtime"),
        mem_mb=scaled("renet_train", "mem_mb"),
    conda:
        ENV
    shell:
        "rnnrepro renet-train --data {input.data:q} --dataset {wildcards.dataset}"
        " --seed {wildcards.seed} --settings {params.settings:q} --device {params.device}"
        " --threads {threads} --history {output.history:q} --metrics {output.metrics:q}"
        " > {log:q} 2>&1"


rule renet_summary:
    input:
        metrics=[training_output(f"{run}/metrics.json") for run in RENET_RUNS],
    output:
        summary=f"{RESULTS}/renet/summary.csv",
    log:
        f"{RESULTS}/logs/renet/summary.log",
    conda:
        ENV
    shell:
        "rnnrepro renet-summary --metrics {input.metrics:q} --output {output.summary:q}"
        " > {log:q} 2>&1"


rule renet_figure:
    input:
        metrics=[training_output(f"{run}/metrics.json") for run in RENET_RUNS],
        histories=[training_output(f"{run}/history.csv") for run in RENET_RUNS],
    output:
        pdf=report(
            "paper/figures/renet-curves.pdf",
            caption="../report/renet-curves.rst",
            category="Figures",
            labels={"figure": "ReNet learning curves"},
        ),
        png="paper/figures/renet-curves.png",
    log:
        f"{RESULTS}/logs/renet/figure.log",
    conda:
        ENV
    shell:
        "rnnrepro renet-figure --metrics {input.metrics:q} --output {output.pdf:q}"
        " > {log:q} 2>&1"
