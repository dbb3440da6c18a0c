"""Runs imported from a results archive (``results/<preset>/imported/``), as the workflow uses them.

An imported run is a set of source files, not the output of a job: the summaries read it in
place of the run's training outputs, so no training job exists for it. (Had the files been put
where the training jobs write, Snakemake would retrain them as soon as any upstream data job
has to run, e.g. to draw the MNIST figures in a fresh clone.) A stage's imported runs are used
only while the config agrees with the archive's on every key its training depends on; once it
does not, its runs train as usual and the imported ones are left unused.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnnrepro.results.archive import IMPORT_FOLDER, IMPORT_RECORD, ArchiveError, read_record
from rnnrepro.results.training import stage_differences


@dataclass(frozen=True)
class ImportedRuns:
    """The import record of ``results/<preset>/imported/`` and which stages' runs are used."""

    results_dir: str
    record: dict[str, Any]
    stages: frozenset[str]
    # stage -> (key, archived value, current value) that keeps the stage's runs unused
    ignored: dict[str, tuple[str, Any, Any]] = field(default_factory=dict)

    @property
    def folder(self) -> str:
        return posixpath.join(self.results_dir, IMPORT_FOLDER)

    @property
    def record_path(self) -> str:
        return posixpath.join(self.folder, IMPORT_RECORD)

    def path(self, results_path: str) -> str:
        """``results_path`` (a training output, e.g. ``results/<preset>/memory/.../metrics.json``),
        or its imported copy when its stage's runs are used and the archive has it."""
        relative = posixpath.relpath(results_path, self.results_dir)
        stage = relative.split("/", 1)[0]
        if stage in self.stages and relative in self.record["files"]:
            return posixpath.join(self.folder, relative)
        return results_path

    def describe(self) -> str:
        """One line on what is used, for the start of a run."""
        record = self.record
        used = ", ".join(sorted(self.stages)) or "none"
        text = (f"{self.results_dir}/{IMPORT_FOLDER}: runs of archive {record['archive']} (preset "
                f"{record['preset']}, commit {record['commit']}); stages used: {used}")
        for stage, (key, old, new) in sorted(self.ignored.items()):
            text += (f"\n  {stage}: not used, the config differs from the archive's "
                     f"({key}: {old!r} in the archive, {new!r} now); its runs train")
        return text


def load(results_dir: str, config: Mapping[str, Any]) -> ImportedRuns | None:
    """The imported runs under ``results_dir``, or None when nothing was imported."""
    from rnnrepro.results.unpacking import recover

    recover(results_dir)        # an unpack killed between its two renames: the old import back
    if not (Path(results_dir) / IMPORT_FOLDER / IMPORT_RECORD).exists():
        return None
    try:
        record = read_record(results_dir)
    except ArchiveError as err:
        raise ValueError(str(err)) from err
    found = stage_differences(record["config"], config)
    stages = frozenset(stage for stage, diffs in found.items() if not diffs)
    ignored = {stage: diffs[0] for stage, diffs in found.items() if diffs}
    return ImportedRuns(results_dir, record, stages, ignored)
