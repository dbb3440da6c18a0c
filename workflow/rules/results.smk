# Rules that share finished training runs: where the paper's numbers came from, and the results
# archive a finished run is published as (`rnnrepro results unpack` imports one elsewhere).
#   snakemake results/archive/quick.tar.gz --configfile workflow/presets/quick.yaml
# Between workflows, the training rules' outputs are also cached by Snakemake itself
# (`cache: True`; SNAKEMAKE_OUTPUT_CACHE=<folder> snakemake --cache ...).

import shlex

# Every training output the summaries read (imported or trained here), stage by stage.
TRAINING_OUTPUTS = [*MEMORY_TRAINING_OUTPUTS, *INCREMENT_TRAINING_OUTPUTS, *RENET_TRAINING_OUTPUTS]
RESULTS_ARCHIVE = f"{RESULTS}/archive/{config['preset']}.tar.gz"
PROVENANCE = f"{RESULTS}/provenance.json"
GIT_COMMIT = git_commit()


localrules:
    provenance,
    results_archive,


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
        record=lambda w, input: f"--record {shlex.quote(input.record[0])}" if input.record else "",
        # results/provenance.json -> results
        results_dir=lambda w, output: os.path.dirname(output.json),
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
        config=lambda w: settings_json(config),
        # results/archive/<preset>.tar.gz -> results
        results_dir=lambda w, output: os.path.dirname(os.path.dirname(output[0])),
        commit=GIT_COMMIT,
    log:
        f"{RESULTS}/logs/results/archive.log",
    conda:
        ENV
    shell:
        "rnnrepro results pack --output {output:q} --results-dir {params.results_dir:q}"
        " --config {params.config:q} --commit {params.commit:q} {input.runs:q} > {log:q} 2>&1"
