# Shared helpers for the rule files: result paths and the JSON settings passed to commands.
import json

RESULTS = "results"
ENV = "../../envs/rnnrepro.yaml"


def settings_json(section):
    """Compact JSON of a config section for a command's --settings argument."""
    return json.dumps(section, sort_keys=True, separators=(",", ":"))


def lr_label(lr):
    """3e-05 style label used in result paths and variant names (as in the paper's Table 3)."""
    return f"{float(lr):g}"


def scaled(rule_name, key):
    """A resource from config['resources'][rule_name] that grows with the retry attempt."""
    base = config["resources"][rule_name][key]
    return lambda wildcards, attempt: base * attempt
