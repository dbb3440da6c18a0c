"""Every rule's command line is one its command accepts: each `rnnrepro ...` a dry run of the
full config and of the quick preset would run is parsed by the CLI's own parser, so an option
a rule passes and the command does not declare (or a required one it forgets) fails here, not
in a job hours into a run."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

import pytest

from conftest import copy_repo
from rnnrepro.cli import build_parser


@pytest.fixture(scope="module")
def commands(tmp_path_factory) -> list[str]:
    """The ``rnnrepro`` command lines of every job of the full config and the quick preset."""
    repo = copy_repo(tmp_path_factory.mktemp("commands") / "repo")
    found = []
    for extra in ([], ["--configfile", "workflow/presets/quick.yaml"]):
        plan = subprocess.run([sys.executable, "-m", "snakemake", "-n", "-p", "--cores", "1",
                               *extra], cwd=repo, capture_output=True, text=True, timeout=300)
        assert plan.returncode == 0, plan.stderr[-3000:]
        found += re.findall(r"^Shell command: (rnnrepro .*?)(?: > \S+ 2>&1)?$", plan.stdout,
                            re.M)
    return found


def test_every_rule_command_parses_with_its_commands_options(commands):
    parser = build_parser()
    names = {line.split()[1] for line in commands}
    assert {"prepare", "memory-train", "increment-train", "renet-train", "claims",
            "paper-tables", "download"} <= names
    for line in commands:
        try:
            parser.parse_args(shlex.split(line)[1:])
        except SystemExit:
            pytest.fail(f"the command line of a rule does not parse: {line[:300]}")


def test_a_misspelt_option_would_fail(commands, capsys):
    """The check above is real: the same line with one option misspelt does not parse."""
    line = next(line for line in commands if line.startswith("rnnrepro memory-train"))
    with pytest.raises(SystemExit):
        build_parser().parse_args(shlex.split(line.replace("--history", "--histroy"))[1:])
    assert "required: --history" in capsys.readouterr().err
