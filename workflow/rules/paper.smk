# Rules of the paper stage: the generated tables, the compiled PDF and their report items.
# Figures are drawn by the stages' own plotting rules; this file only collects them.
#   snakemake paper/tables.tex             the papers' tables (needs only the summary CSVs)
#   snakemake paper/main.pdf               the whole paper (latexmk; TeX from Debian packages)
#   snakemake --report report.html         self-contained HTML report (captions: workflow/report)
# paper_targets() is what `snakemake` builds by default; the helpers are in common.smk ("paper").


localrules:
    paper_tables,
    paper_increment_table,
    paper_pdf,


rule paper_tables:
    input:
        published="paper/published.yaml",
        renet=RENET_ERRORS,
        variants=MEMORY_SUMMARY_OUTPUTS["variants"],
        groups=MEMORY_SUMMARY_OUTPUTS["groups"],
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
        settings=paper_tables_settings,
    log:
        f"{RESULTS}/logs/paper/paper_tables.log",
    conda:
        ENV
    shell:
        "rnnrepro paper-tables --published {input.published:q} --renet-errors {input.renet:q}"
        " --memory-variants {input.variants:q} --memory-groups {input.groups:q}"
        " --verdicts {input.verdicts:q} --settings {params.settings:q} --output {output.tex:q} --html {output.html:q}"
        " > {log:q} 2>&1"


rule paper_increment_table:
    input:
        summary=INCREMENT_SUMMARY,
    output:
        tex="paper/increment-table.tex",
        html=report(
            f"{RESULTS}/paper/increment-table.html",
            caption="../report/increment-table.rst",
            category="Tables",
            labels={"table": "increment final accuracies (ours)"},
        ),
    params:
        settings=paper_increment_settings,
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
        figures=paper_figures,
        script="workflow/scripts/build-pdf.sh",
    output:
        report(
            "paper/main.pdf",
            caption="../report/paper.rst",
            category="Paper",
            labels={"document": "paper/main.pdf"},
        ),
    params:
        # LaTeX's own files (main.log with each table's printed size, .aux, ...).
        build=f"{RESULTS}/paper/latex",
    log:
        f"{RESULTS}/logs/paper/paper_pdf.log",
    conda:
        "../../envs/tex.yaml"
    shell:
        "bash {input.script:q} {input.tex:q} {params.build:q} {output:q} > {log:q} 2>&1"
