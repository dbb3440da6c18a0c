# Every helper of the rule files, one section per stage (the rule files hold rules only, as
# `snakemake --lint` wants): result paths, targets, input functions and the settings each
# command receives. Values come from the config only (config.yaml states every default).
import json
import os
import re
import shlex
import shutil
import subprocess

from rnnrepro.memory import representations as memory_representations
from rnnrepro.memory import runs as memory_runs
from rnnrepro.progress import job_time
from rnnrepro import paths as job_paths
from rnnrepro.command_helpers import settings_json
from rnnrepro.paper.figures import included_figures
from rnnrepro.increment import settings as increment_settings
from rnnrepro.increment.settings import HoldoutSettings, PermutationSettings
from rnnrepro.memory import settings as memory_settings
from rnnrepro.renet import settings as renet_settings
from rnnrepro.increment.settings import IncrementSettings
from rnnrepro.job_settings import SPEED
from rnnrepro.results import imported as imported_runs
from rnnrepro.results import training as training_jobs
from rnnrepro.results.code import TRAINERS, code_digest, trainer_digests
from rnnrepro.renet import datasets as renet_datasets
from rnnrepro.renet.datasets import NAMES as RENET_DATASET_NAMES
from rnnrepro.increment import runs as increment_runs

# Each preset keeps its own results (data, runs, summaries, logs), so presets live side by side
# in one clone: switching between them retrains nothing (rnnrepro.paths.results_dir).
RESULTS = job_paths.results_dir(config["preset"])
ENV = "../../envs/rnnrepro.yaml"


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
# The training rules are eligible for Snakemake's between-workflow cache when it is asked for
# (--cache); declared only then, so other runs do not print one notice per rule about it.
TRAINING_CACHE = workflow.workflow_settings.cache is not None

# Runs imported from a results archive (`rnnrepro results unpack`), used where the config agrees.
IMPORTED = imported_runs.load(RESULTS, config)


def training_output(path):
    """A training output as the summaries read it: the run's own file, or its imported copy."""
    return IMPORTED.path(path) if IMPORTED else path


def cache_key(stage):
    """Params that make the output cache's key complete: Snakemake hashes a cached job's
    command, params and inputs, but not its wildcards nor the Python its command imports."""
    return {"job": lambda wildcards: dict(wildcards.items()),
            "code": code_digest(TRAINERS[stage])}


def scaled(rule_name, key):
    """A resource from config['resources'][rule_name] that grows with the retry attempt."""
    base = config["resources"][rule_name][key]
    return lambda wildcards, attempt: base * attempt


def time_limit(rule_name, work):
    """The runtime (minutes) of a job of ``rule_name``: from its work (``work(wildcards)``,
    rnnrepro.progress.job_time) and config.yaml's rates, times the attempt, capped at
    max_minutes."""
    resources = config["resources"]

    def runtime(wildcards, attempt):
        first = job_time.minutes(resources, rule_name, work(wildcards), config["device"])
        return min(resources["max_minutes"], first * attempt)

    return runtime


# ---- data stage: raw files, processed datasets, download settings
DATA = f"{RESULTS}/data"
PROCESSED_ARRAYS = [
    f"{split}_{kind}.npy"
    for split in ("train", "validation", "test")
    for kind in ("images", "labels")
] + ["normalization.npz"]


def raw_files(wildcards):
    """A dataset's verified raw files: every file data.files.<dataset> lists (the rule's
    wildcard allows only datasets listed there; the schema requires a file each)."""
    return [f"{DATA}/raw/{wildcards.dataset}/{name}"
            for name in config["data"]["files"][wildcards.dataset]]


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


def prepare_settings(wildcards):
    """How the dataset is prepared: its data.<dataset> keys and what each raw file is."""
    dataset = wildcards.dataset
    if dataset not in config["data"]:
        raise ValueError(f"no section data.{dataset} in the config (its splits)")
    return settings_json({**config["data"][dataset], "files": raw_identity(dataset)})


def manifest_folder(wildcards, output):
    """results/<preset>/data/<dataset>/manifest.json -> the processed dataset's folder."""
    return os.path.dirname(output.manifest)


def permutations_settings(wildcards):
    return settings_json(config["data"]["permutations"])


# ---- memory stage (workflow/rules/memory.smk)
MEMORY = config["memory"]
MEMORY_SUMMARY = f"{RESULTS}/memory/summary"
MNIST_MANIFEST = f"{DATA}/mnist/manifest.json"
MNIST_PERMUTATIONS = f"{DATA}/permutations.json"
# One run's folder as a pattern (wildcards representation, lr, seed; rnnrepro.memory.runs).
MEMORY_RUN = f"{RESULTS}/{memory_runs.RUN}"
MEMORY_LOG = f"{RESULTS}/{memory_runs.LOG}"
# Folder of every configured run: results/<preset>/memory/<representation>/lr<lr>/seed<seed>.
MEMORY_RUNS = [
    f"{RESULTS}/memory/{memory_runs.run_folder(rep, lr, seed)}"
    for rep in MEMORY["representations"]
    for lr in MEMORY["learning_rates"]
    for seed in MEMORY["seeds"]
]
# The files of one run: the archive's content and the cache's entry.
MEMORY_RUN_FILES = ("history.csv", "metrics.json", "latency.csv")
MEMORY_TRAINING_OUTPUTS = [
    training_output(f"{run}/{name}") for run in MEMORY_RUNS for name in MEMORY_RUN_FILES
]
# The memory summary's files, by the name of its command's option (rule memory_summary's
# outputs; the claims and paper rules read them from here).
MEMORY_SUMMARY_OUTPUTS = {
    name: f"{MEMORY_SUMMARY}/{file}"
    for name, file in (("table2", "table2_latency.csv"), ("table3", "table3_runs.csv"),
                       ("variants", "variants.csv"), ("groups", "groups.csv"),
                       ("table4", "table4_best.csv"), ("curves", "curves.csv"),
                       ("epochs", "epochs.csv"), ("notes", "notes.json"))
}
MEMORY_FIGURES = ("memory-curves", "memory-representations", "memory-samples")


def memory_targets():
    """Everything the paper stage needs from the memory stage: summaries and figure PDFs."""
    return list(MEMORY_SUMMARY_OUTPUTS.values()) + [
        f"paper/figures/{name}.pdf" for name in MEMORY_FIGURES
    ]


def memory_run_outputs(name):
    """``name`` (e.g. metrics.json) of every configured run, imported or trained here."""
    return [training_output(f"{run}/{name}") for run in MEMORY_RUNS]


def memory_figure_input(path):
    """``path`` (MNIST or its permutations) for the Table 1 and Fig. 8 figures; none in a preset
    without the memory stage (memory.representations: []), whose figures say so."""
    return [path] if MEMORY["representations"] else []


def memory_permutations(wildcards):
    """The permutations file, for the permuted representations only."""
    return [MNIST_PERMUTATIONS] if "-perm" in wildcards.representation else []


def memory_permutations_arg(wildcards, input):
    return f"--permutations {shlex.quote(input.permutations[0])}" if input.permutations else ""


def memory_run_settings(wildcards):
    """--settings of one run (rnnrepro.results.training: the result keys of
    rnnrepro.memory.settings, with memory.pixel_runs applied to the 784-step runs; a sweep
    change never reruns other runs)."""
    return settings_json(memory_settings.run_settings(config, wildcards.representation))


def memory_run_speed(wildcards):
    """--speed of one run: the keys that change how fast, not what (eval_batch_size)."""
    return settings_json(
        memory_settings.run_settings(config, wildcards.representation, SPEED))


def memory_summary_settings(wildcards):
    return settings_json({"preset": config["preset"], "memory": MEMORY})


def memory_gallery_settings(wildcards):
    return settings_json({
        "representations": MEMORY["representations"],
        "gallery_index": MEMORY["figures"]["gallery_index"],
    })


def memory_samples_settings(wildcards):
    return settings_json({"sample_digits": MEMORY["figures"]["sample_digits"]})


# ---- renet stage (workflow/rules/renet.smk)
RENET = config["renet"]
# One run's folder as a pattern, and every configured run:
# results/<preset>/renet/<dataset>/seed<seed>.
RENET_RUN = f"{RESULTS}/{renet_datasets.RUN}"
RENET_LOG = f"{RESULTS}/{renet_datasets.LOG}"
RENET_RUNS = expand(RENET_RUN, dataset=RENET["datasets"], seed=RENET["seeds"])
RENET_SUMMARY = f"{RESULTS}/renet/summary.csv"
RENET_ERRORS = f"{RESULTS}/renet/errors.csv"
# The files of one run: the archive's content and the cache's entry.
RENET_TRAINING_OUTPUTS = [
    training_output(f"{run}/{name}") for run in RENET_RUNS
    for name in ("history.csv", "metrics.json")
]


def renet_targets():
    """Everything the paper stage needs from the renet stage."""
    return [RENET_SUMMARY, RENET_ERRORS, "paper/figures/renet-curves.pdf"]


def renet_run_outputs(name):
    """``name`` (e.g. metrics.json) of every configured run, imported or trained here."""
    return [training_output(f"{run}/{name}") for run in RENET_RUNS]


def renet_job_settings(wildcards):
    """--settings of one job: its dataset's model (Table 1), the training settings that change
    results, the subset."""
    return settings_json(renet_settings.run_settings(config, wildcards.dataset))


def renet_job_speed(wildcards):
    """--speed of one job: the training settings that change how fast, not what."""
    return settings_json(renet_settings.run_speed(config))


# ---- increment stage (workflow/rules/increment.smk)
INCREMENT = config["increment"]
INCREMENT_DIR = f"{RESULTS}/increment"
INCREMENT_SUMMARY = f"{INCREMENT_DIR}/summary.csv"
INCREMENT_EVALUATIONS = f"{INCREMENT_DIR}/evaluations.csv"
INCREMENT_LOGS = f"{RESULTS}/logs/increment"
INCREMENT_TASK_WILDCARDS = {"base": r"\d+", "digits": r"\d+"}
INCREMENT_WILDCARDS = {
    **INCREMENT_TASK_WILDCARDS,
    "order": "simple|complicated",
    "cell": "rnn|lstm|gru",
    "seed": r"\d+",
}
# A task's folder (its permutation and hold-out set) and one job's folder, as patterns.
INCREMENT_TASK = f"{RESULTS}/{increment_runs.TASK}"
INCREMENT_RUN = f"{RESULTS}/{increment_runs.RUN}"
INCREMENT_LOG = f"{RESULTS}/{increment_runs.LOG}"


def increment_runs(base, digits, filename):
    """``filename`` of every training job of task (K, N): orders x cells x seeds (imported or
    trained here)."""
    return [training_output(path) for path in expand(
        f"{INCREMENT_RUN}/{filename}", base=base, digits=digits,
        order=INCREMENT["orders"], cell=INCREMENT["cells"], seed=INCREMENT["seeds"])]


def increment_all_runs(filename):
    """``filename`` of every training job of every task."""
    return [path for t in INCREMENT["tasks"]
            for path in increment_runs(t["base"], t["digits"], filename)]


# The files of every run: the archive's content.
INCREMENT_TRAINING_OUTPUTS = [
    path for name in ("history.csv", "metrics.json") for path in increment_all_runs(name)
]


def increment_targets():
    """Everything the paper stage needs from this stage: the summaries, one figure per (K, N)."""
    return [INCREMENT_SUMMARY, INCREMENT_EVALUATIONS] + [
        f"paper/figures/increment-K{t['base']}-N{t['digits']}.pdf" for t in INCREMENT["tasks"]]


def increment_task_configured(wildcards):
    """Whether (K, N) is one of increment.tasks; the figure of another task (main.tex includes
    the paper's Figs. 5-7) says it was not run."""
    task = (int(wildcards.base), int(wildcards.digits))
    return task in {(t["base"], t["digits"]) for t in INCREMENT["tasks"]}


def increment_task_histories(wildcards):
    if not increment_task_configured(wildcards):
        return []
    return increment_runs(wildcards.base, wildcards.digits, "history.csv")


def increment_task_metrics(wildcards):
    if not increment_task_configured(wildcards):
        return []
    return increment_runs(wildcards.base, wildcards.digits, "metrics.json")


def increment_permutation(wildcards):
    """The digit order, for the complicated order only."""
    if wildcards.order != "complicated":
        return []
    return expand(f"{INCREMENT_TASK}/permutation.json", base=wildcards.base,
                  digits=wildcards.digits)


def increment_permutation_arg(wildcards, input):
    return f"--permutation {shlex.quote(input.permutation[0])}" if input.permutation else ""


# Settings each command receives: only the keys its output depends on (its settings class in
# rnnrepro.increment.settings), so adding a task or seed to the grid reruns nothing that exists.
def increment_permutation_settings(wildcards):
    return settings_json(increment_settings.job_settings(config, PermutationSettings))


def increment_holdout_settings(wildcards):
    return settings_json(increment_settings.job_settings(config, HoldoutSettings))


def increment_train_settings(wildcards):
    return settings_json(increment_settings.job_settings(config, IncrementSettings))


def increment_train_speed(wildcards):
    return settings_json(increment_settings.job_settings(config, IncrementSettings, SPEED))


# ---- claims stage (workflow/rules/claims.smk)
CLAIMS_VERDICTS = f"{RESULTS}/claims/verdicts.csv"
# Every stated magnitude of a claim (the paper's text and its tables) against our interval.
CLAIMS_MAGNITUDES = f"{RESULTS}/claims/magnitudes.csv"


# ---- results: provenance and the results archive (workflow/rules/results.smk)
# Archives sit beside the presets' folders, named by their preset.
RESULTS_ARCHIVE = f"{job_paths.ARCHIVES}/{config['preset']}.tar.gz"
FINISHED_ARCHIVE = f"{job_paths.ARCHIVES}/{config['preset']}.finished.tar.gz"
# The finished runs and the unfinished runs' checkpoints: to continue a run on another machine.
PART_ARCHIVE = f"{job_paths.ARCHIVES}/{config['preset']}.part.tar.gz"
PROVENANCE = f"{RESULTS}/provenance.json"
GIT_COMMIT = git_commit()
# Every training output the summaries read (imported or trained here), stage by stage.
TRAINING_OUTPUTS = [*MEMORY_TRAINING_OUTPUTS, *INCREMENT_TRAINING_OUTPUTS, *RENET_TRAINING_OUTPUTS]


def provenance_record_arg(wildcards, input):
    return f"--record {shlex.quote(input.record[0])}" if input.record else ""


def provenance_results_dir(wildcards, output):
    """results/<preset>/provenance.json -> results/<preset>"""
    return os.path.dirname(output.json)


def archive_config(wildcards):
    return settings_json(config)


def archive_code(wildcards):
    """The digest of each stage's trainer code, recorded in the archive's manifest."""
    return settings_json(trainer_digests())


def archive_results_dir(wildcards, output):
    """The folder an archive packs: this preset's results."""
    return RESULTS


# ---- paper stage (workflow/rules/paper.smk)
# paper/main.pdf needs TeX: latexmk (TeX Live) or tectonic on PATH, or `--sdm conda` (rule
# paper_pdf then runs in envs/tex.yaml, which brings tectonic). Without any of them the default
# target leaves the PDF out and the run ends with PAPER_PDF_HINT; `snakemake paper/main.pdf`
# still tries and fails with the same hint in its log.
PAPER_TEX = bool(
    shutil.which("latexmk")
    or shutil.which("tectonic")
    or any(m.name == "CONDA" for m in workflow.deployment_settings.deployment_method)
)
PAPER_PDF_HINT = (
    "paper/main.pdf not built: no TeX found (latexmk or tectonic). Get it with "
    "`snakemake --sdm conda paper/main.pdf` (envs/tex.yaml), or install TeX Live (Debian/"
    "Ubuntu: sudo apt-get install latexmk texlive-latex-base texlive-latex-recommended "
    "texlive-latex-extra texlive-fonts-recommended) and run `snakemake paper/main.pdf`."
)


def paper_figures(wildcards):
    """The figures paper/main.tex includes (paper/figures/<name>.pdf, drawn by the stages'
    rules), read from main.tex when the PDF is built: the papers' figures, whatever the preset
    runs (a stage or task it leaves out draws a figure saying so)."""
    return expand("paper/figures/{name}.pdf", name=included_figures("paper/main.tex"))


def paper_targets():
    """What `snakemake` builds by default: every stage's outputs, the tables and the PDF."""
    return [
        *memory_targets(),
        *increment_targets(),
        *renet_targets(),
        CLAIMS_VERDICTS,
        PROVENANCE,
        "paper/tables.tex",
        "paper/increment-table.tex",
        *(["paper/main.pdf"] if PAPER_TEX else []),
    ]


def paper_tables_settings(wildcards):
    return settings_json({
        "preset": config["preset"],
        "renet": {k: config["renet"][k] for k in ("datasets", "models")},
    })


def paper_increment_settings(wildcards):
    return settings_json({
        "preset": config["preset"],
        "increment": {k: config["increment"][k] for k in ("tasks", "cells")},
    })

