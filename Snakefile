# rnnrepro: ReNet (Visin et al., 2015) and RNN memory capacity (Kolesau et al.), raw data to paper.
#   snakemake --cores all                                            full reproduction
#   snakemake --cores all --configfile workflow/presets/quick.yaml   quick, offline, 2 CPU cores
#   snakemake --cores all --profile slurm                            on a SLURM GPU cluster
from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version

min_version("9.0")


from rnnrepro.config_schema import ConfigError, validate
from rnnrepro.config_types import coerce


configfile: "config.yaml"


# `--config key='{nested: 5}'` arrives with every nested scalar a string: type them by the
# schema first, so a number typed on the command line is a number (as in a config file).
coerce(config, f"{workflow.basedir}/workflow/schemas/config.schema.yaml")
try:
    validate(config, f"{workflow.basedir}/workflow/schemas/config.schema.yaml")
except ConfigError as err:  # one line naming the key, not the schema
    raise WorkflowError(
        f"{err}. Set it in config.yaml, a --configfile, or --config with the section as YAML: "
        "--config memory='{epochs: 5}'"
    ) from None


# The ReNet datasets run must be declared and have their model, raw files and splits.
from rnnrepro.renet.datasets import config_problems as renet_dataset_problems

_problems = renet_dataset_problems(config)
if _problems:  # the first, in one line, as for the schema's
    raise WorkflowError(f"config key {_problems[0]}")


# A run that names no preset over a clone holding another preset's results stops in one line
# instead of planning the full config's training (each preset has results/<preset>/).
from rnnrepro.paths import legacy_layout, unchosen_full_run

_unchosen = legacy_layout(".") or unchosen_full_run(
    ".",
    config,
    list(workflow.config_settings.configfiles or []),
    dict(workflow.config_settings.config or {}),
)
if _unchosen:
    raise WorkflowError(_unchosen)


report: "workflow/report/workflow.rst"


# With --cache, the process that schedules jobs restores and stores the training jobs' cache
# entries: a cached job is never submitted to a cluster (rnnrepro.results.submit_host_cache).
if workflow.workflow_settings.cache is not None:
    from rnnrepro.results.submit_host_cache import use_submit_host_cache

    use_submit_host_cache(workflow)


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/memory.smk"
include: "workflow/rules/increment.smk"
include: "workflow/rules/renet.smk"
include: "workflow/rules/claims.smk"
include: "workflow/rules/results.smk"
include: "workflow/rules/paper.smk"


rule all:
    default_target: True
    input:
        paper_targets(),


onstart:
    if IMPORTED:
        print(IMPORTED.describe())


onsuccess:
    if not PAPER_TEX:
        print(PAPER_PDF_HINT)
