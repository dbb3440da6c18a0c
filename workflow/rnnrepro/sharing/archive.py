"""The results archive: every training job's tidy outputs in one ``.tar.gz``, data only.

Layout: ``manifest.json`` (format, preset, package version, git commit, and the sha256 of every
other member) and the members it lists: ``config.json`` (the resolved config of the run) and the
training outputs under their paths below ``results/`` (``memory/<rep>/lr<lr>/seed<s>/history.csv``
...). Only CSV and JSON: no checkpoint, nothing that unpickles.

Packing is here; unpacking a stranger's archive (streamed, bounded, atomic) is
:mod:`rnnrepro.sharing.unpacking`.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import posixpath
import tarfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from rnnrepro.files import atomic_path

FORMAT = "rnnrepro-results/1"
MANIFEST = "manifest.json"
CONFIG = "config.json"
ALLOWED_SUFFIXES = (".csv", ".json")
# Imported runs live in results/imported/, beside the runs this clone trains.
IMPORT_FOLDER = "imported"
# The manifest of the unpacked archive, plus where it came from.
IMPORT_RECORD = "archive.json"


class ArchiveError(Exception):
    """The archive cannot be packed or unpacked; the message names the member or key."""


# Keys every import record holds (written by `rnnrepro results unpack`).
RECORD_KEYS = ("files", "archive", "preset", "commit", "config")


def read_record(results_dir: str | Path) -> dict[str, Any]:
    """The import record of ``<results_dir>/imported/``; ArchiveError names the file and says
    what to do when it is not one."""
    path = Path(results_dir) / IMPORT_FOLDER / IMPORT_RECORD
    try:
        record = json.loads(path.read_text())
        if not isinstance(record, dict):
            raise ValueError("not a JSON object")
        missing = [key for key in RECORD_KEYS if key not in record]
        if missing:
            raise ValueError(f"lacks {', '.join(missing)}")
        if not isinstance(record["files"], dict):
            raise ValueError("no files listed")
        return record
    except (OSError, ValueError) as err:
        raise ArchiveError(f"{path}: not an import record of `rnnrepro results unpack` "
                           f"({err}); remove {path.parent} and unpack the archive again"
                           ) from err


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def member_name(path: str, results_dir: str) -> str:
    """The archive name of a results file: its path below ``results/`` (or below
    ``results/imported/`` for a run imported from another archive)."""
    relative = posixpath.relpath(Path(path).as_posix(), Path(results_dir).as_posix())
    if relative.startswith(f"{IMPORT_FOLDER}/"):
        relative = relative[len(IMPORT_FOLDER) + 1:]
    check_name(relative)
    return relative


def pack(output: str | Path, files: Iterable[str], *, results_dir: str,
         config: Mapping[str, Any], preset: str, version: str, commit: str,
         code: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Write the archive of ``files`` (training outputs below ``results_dir``); return its
    manifest. The archive is byte-identical for the same files and config."""
    members: dict[str, bytes] = {CONFIG: json_bytes(config)}
    for path in files:
        name = member_name(path, results_dir)
        if name in members:
            raise ArchiveError(f"{path}: a second file for archive member {name}")
        members[name] = Path(path).read_bytes()  # follows a symlink into the output cache
    manifest = {"format": FORMAT, "preset": preset, "version": version, "commit": commit,
                "files": {name: sha256(data) for name, data in sorted(members.items())}}
    if code is not None:
        manifest["code"] = dict(code)
    # mtime 0 in the gzip header and in every member: the same results, the same bytes.
    with (atomic_path(output) as partial, open(partial, "wb") as raw,
          gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as zipped,
          tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar):
        for name, data in [(MANIFEST, json_bytes(manifest)), *sorted(members.items())]:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    return manifest


# What an import record says of each archive it holds runs of (``sources``).
SOURCE_KEYS = ("archive", "archive_sha256", "preset", "version", "commit", "code")


def sources(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The archives an import record holds runs of (a record of one archive: itself)."""
    return list(record.get("sources") or [{key: record.get(key) for key in SOURCE_KEYS}])


def code_changed(source: Mapping[str, Any], current: Mapping[str, str],
                 stages: Iterable[str]) -> dict[str, str]:
    """Of ``stages``, those whose trainer code differs from the archive's, each with a short
    reason: the two digests, or that the archive does not record its code."""
    recorded = source.get("code")
    changed = {}
    for stage in stages:
        if not isinstance(recorded, Mapping) or stage not in recorded:
            changed[stage] = "the archive does not record its trainer code"
        elif recorded[stage] != current.get(stage):
            changed[stage] = f"trainer code {recorded[stage]} then, {current.get(stage)} now"
    return changed


def check_name(name: str) -> None:
    """Refuse absolute names, ``..`` and anything that is not a plain relative path."""
    parts = name.split("/")
    if (not name or name.startswith("/") or "\\" in name or ".." in parts
            or any(part in ("", ".") for part in parts) or ":" in parts[0]):
        raise ArchiveError(f"member {name!r} has an unsafe path (absolute, '..' or empty "
                           "parts); refusing the archive")


def json_bytes(value: Any) -> bytes:
    return (json.dumps(value, indent=1, sort_keys=True) + "\n").encode()
