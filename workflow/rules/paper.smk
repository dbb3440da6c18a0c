# Rules of the paper stage: the generated tables, the compiled PDF and their report items.
# Figures are drawn by the stages' own plotting rules; this file only collects them.
#   snakemake paper/tables.tex             the papers' tables (needs only the summary CSVs)
#   snakemake paper/main.pdf               the whole paper (latexmk; TeX from Debian packages)
#   snakemake --report report.html         self-contained HTML report (captions: workflow/report)

import shutil

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

# The figures paper/main.tex includes (paper/figures/<name>.pdf, drawn by the stages' rules).
PAPER_FIGURES = [
    "increment-K2-N32",
    "increment-K10-N7",
    "increment-K4-N15",
    "memory-curves",
    "memory-representations",
    "memory-samples",
    "renet-curves",
]


localrules:
    paper_tables,
    paper_increment_table,
    paper_pdf,


# What `snakemake` builds by default: every stage's outputs, the tables and the PDF. (A lambda,
# not a def: `snakemake --lint` flags functions beside rules.)
paper_targets = lambda: [
    *memory_targets(),
    *increment_targets(),
    *renet_targets(),
    CLAIMS_VERDICTS,
    PROVENANCE,
    "paper/tables.tex",
    "paper/increment-table.tex",
    *(["paper/main.pdf"] if PAPER_TEX else []),
]


rule paper_tables:
    input:
        published="paper/published.yaml",
        renet=f"{RESULTS}/renet/summary.csv",
        latency=f"{RESULTS}/memory/summary/table2_latency.csv",
        runs=f"{RESULTS}/memory/summary/table3_runs.csv",
        verdicts=CLAIMS_VERDICTS,
    output:
        tex="paper/tables.tex",
        html=report(
            f"{RESULTS}/paper/tables.html",
            caption="../report/tables.rst",
            category="Tables",
            labels={"table": "papers' Tables (ReNet 1-2, memory 2-4) and the claims"},
        ),
    params:
        settings=lambda w: settings_json(
            {
                "preset": config["preset"],
                "renet": {k: config["renet"][k] for k in ("datasets", "models")},
            }
        ),
    log:
        f"{RESULTS}/logs/paper/paper_tables.log",
    conda:
        ENV
    shell:
        "rnnrepro paper-tables --published {input.published:q} --renet-summary {input.renet:q}"
        " --memory-latency {input.latency:q} --memory-runs {input.runs:q}"
        " --verdicts {input.verdicts:q} --settings {params.settings:q} --output {output.tex:q} --html {output.html:q}"
        " > {log:q} 2>&1"


rule paper_increment_table:
    input:
        summary=f"{RESULTS}/increment/summary.csv",
    output:
        tex="paper/increment-table.tex",
        html=report(
            f"{RESULTS}/paper/increment-table.html",
            caption="../report/increment-table.rst",
            category="Tables",
            labels={"table": "increment final accuracies (ours)"},
        ),
    params:
        settings=lambda w: settings_json(
            {
                "preset": config["preset"],
                "increment": {k: config["increment"][k] for k in ("tasks", "cells")},
            }
        ),
    log:
        f"{RESULTS}/logs/paper/paper_increment_table.log",
    conda:
        ENV
    shell:
        "rnnrepro paper-increment-table --summary {input.summary:q}"
        " --settings {params.settings:q} --output {output.tex:q} --html {output.html:q}"
        " > {log:q} 2>&1"


# latexmk (or tectonic) fails on undefined references or citations, so a PDF with "??" in it
# fails the rule (workflow/scripts/build-pdf.sh).
rule paper_pdf:
    input:
        tex="paper/main.tex",
        tables="paper/tables.tex",
        increment="paper/increment-table.tex",
        provenance="paper/provenance.tex",
        figures=expand("paper/figures/{name}.pdf", name=PAPER_FIGURES),
        script="workflow/scripts/build-pdf.sh",
    output:
        report(
            "paper/main.pdf",
            caption="../report/paper.rst",
            category="Paper",
            labels={"document": "paper/main.pdf"},
        ),
    log:
        f"{RESULTS}/logs/paper/paper_pdf.log",
    conda:
        "../../envs/tex.yaml"
    shell:
        "bash {input.script:q} {input.tex:q} > {log:q} 2>&1"
