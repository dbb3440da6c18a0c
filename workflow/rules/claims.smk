# Rule of the claims stage: every claim of both papers (paper/claims.yaml) evaluated on the
# experiments' summary files, one verdict per comparison. The paper stage renders it as
# Table tab:claims in paper/tables.tex.
#   snakemake results/<preset>/claims/verdicts.csv


localrules:
    claims,


rule claims:
    input:
        claims="paper/claims.yaml",
        published="paper/published.yaml",
        memory_runs=MEMORY_SUMMARY_OUTPUTS["table3"],
        memory_latency=MEMORY_SUMMARY_OUTPUTS["table2"],
        memory_epochs=MEMORY_SUMMARY_OUTPUTS["epochs"],
        increment=INCREMENT_EVALUATIONS,
        renet=RENET_SUMMARY,
    output:
        verdicts=report(
            CLAIMS_VERDICTS,
            caption="../report/claims.rst",
            category="Claims",
            labels={"table": "verdicts of the papers' claims (CSV)"},
        ),
        magnitudes=CLAIMS_MAGNITUDES,
    log:
        f"{RESULTS}/logs/claims/claims.log",
    conda:
        ENV
    shell:
        "rnnrepro claims --claims {input.claims:q} --published {input.published:q}"
        " --memory-runs {input.memory_runs:q} --memory-latency {input.memory_latency:q}"
        " --memory-epochs {input.memory_epochs:q}"
        " --increment-evaluations {input.increment:q} --renet-summary {input.renet:q}"
        " --output {output.verdicts:q} --magnitudes {output.magnitudes:q} > {log:q} 2>&1"
