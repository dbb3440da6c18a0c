# Rules that share finished training runs: where the paper's numbers came from, and the results
# archive a finished run is published as (`rnnrepro results unpack` imports one elsewhere).
#   snakemake results/archive/quick.tar.gz --configfile workflow/presets/quick.yaml
#   snakemake results/archive/quick.finished.tar.gz ...   the runs finished so far
#   snakemake results/archive/quick.part.tar.gz ...       those and the unfinished runs'
#                                                         checkpoints, to resume elsewhere
# Between workflows, the training rules' outputs are also cached by Snakemake itself
# (`cache: True`; SNAKEMAKE_OUTPUT_CACHE=<folder> snakemake --cache ...). The helpers are in
# common.smk ("results").


localrules:
    provenance,
    results_archive,
    results_archive_finished,
    results_archive_part,


rule provenance:
    input:
        runs=TRAINING_OUTPUTS,
        record=[IMPORTED.record_path] if IMPORTED else [],
    output:
        json=report(
            PROVENANCE,
            caption="../report/provenance.rst",
            category="Provenance",
            labels={"file": "where the numbers came from"},
        ),
        tex="paper/provenance.tex",
    params:
        record=provenance_record_arg,
        results_dir=provenance_results_dir,
        preset=config["preset"],
        commit=GIT_COMMIT,
    log:
        f"{RESULTS}/logs/results/provenance.log",
    conda:
        ENV
    shell:
        "rnnrepro results provenance --results-dir {params.results_dir:q} {params.record}"
        " --preset {params.preset:q} --commit {params.commit:q} --json {output.json:q}"
        " --tex {output.tex:q} {input.runs:q} > {log:q} 2>&1"


rule results_archive:
    input:
        runs=TRAINING_OUTPUTS,
    output:
        RESULTS_ARCHIVE,
    params:
        config=archive_config,
        code=archive_code,
        results_dir=archive_results_dir,
        commit=GIT_COMMIT,
    log:
        f"{RESULTS}/logs/results/archive.log",
    conda:
        ENV
    shell:
        "rnnrepro results pack --output {output:q} --results-dir {params.results_dir:q}"
        " --config {params.config:q} --code {params.code:q} --commit {params.commit:q}"
        " {input.runs:q} > {log:q} 2>&1"


# The runs finished so far, while the others train (or wait for another machine): rebuild with
# --forcerun results_archive_finished; `rnnrepro results unpack --add` joins such parts.
rule results_archive_finished:
    output:
        FINISHED_ARCHIVE,
    params:
        runs_packed="--finished-only",
        config=archive_config,
        code=archive_code,
        results_dir=archive_results_dir,
        commit=GIT_COMMIT,
        runs=TRAINING_OUTPUTS,
    log:
        f"{RESULTS}/logs/results/archive-finished.log",
    conda:
        ENV
    shell:
        "rnnrepro results pack {params.runs_packed} --output {output:q}"
        " --results-dir {params.results_dir:q} --config {params.config:q}"
        " --code {params.code:q} --commit {params.commit:q} {params.runs:q} > {log:q} 2>&1"


# A part archive: the finished runs as above, and each unfinished run's checkpoint.safetensors,
# best.safetensors and history.partial.csv, which `rnnrepro results unpack` puts back in the
# run's folder elsewhere, so that snakemake there resumes the run mid-way (a preempted run moves
# to another site). Rebuild with --forcerun results_archive_part.
use rule results_archive_finished as results_archive_part with:
    output:
        PART_ARCHIVE,
    params:
        runs_packed="--unfinished",
    log:
        f"{RESULTS}/logs/results/archive-part.log",
