"""The results archive: every training job's tidy outputs in one ``.tar.gz``, data only.

Layout: ``manifest.json`` (format, preset, package version, git commit, and the sha256 of every
other member) and the members it lists: ``config.json`` (the resolved config of the run) and the
training outputs under their paths below ``results/`` (``memory/<rep>/lr<lr>/seed<s>/history.csv``
...). Only CSV and JSON: no checkpoint, nothing that unpickles.

:func:`read` checks the whole archive in memory before :func:`unpack` writes anything.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import posixpath
import shutil
import tarfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Archive:
    """A checked archive: its manifest and the bytes of every listed member."""

    name: str
    sha256: str
    manifest: dict[str, Any]
    members: dict[str, bytes]

    @property
    def config(self) -> dict[str, Any]:
        return json.loads(self.members[CONFIG])


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def member_name(path: str, results_dir: str) -> str:
    """The archive name of a results file: its path below ``results/`` (or below
    ``results/imported/`` for a run imported from another archive)."""
    relative = posixpath.relpath(Path(path).as_posix(), Path(results_dir).as_posix())
    if relative.startswith(f"{IMPORT_FOLDER}/"):
        relative = relative[len(IMPORT_FOLDER) + 1:]
    _check_name(relative)
    return relative


def pack(output: str | Path, files: Iterable[str], *, results_dir: str,
         config: Mapping[str, Any], preset: str, version: str, commit: str) -> dict[str, Any]:
    """Write the archive of ``files`` (training outputs below ``results_dir``); return its
    manifest. The archive is byte-identical for the same files and config."""
    members: dict[str, bytes] = {CONFIG: _json_bytes(config)}
    for path in files:
        name = member_name(path, results_dir)
        if name in members:
            raise ArchiveError(f"{path}: a second file for archive member {name}")
        members[name] = Path(path).read_bytes()  # follows a symlink into the output cache
    manifest = {"format": FORMAT, "preset": preset, "version": version, "commit": commit,
                "files": {name: sha256(data) for name, data in sorted(members.items())}}
    # mtime 0 in the gzip header and in every member: the same results, the same bytes.
    with (atomic_path(output) as partial, open(partial, "wb") as raw,
          gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as zipped,
          tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar):
        for name, data in [(MANIFEST, _json_bytes(manifest)), *sorted(members.items())]:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    return manifest


def read(path: str | Path) -> Archive:
    """Read and check an archive in memory: regular files with safe relative names only, a
    manifest listing every member with its sha256, CSV/JSON members only, every sum right."""
    path = Path(path)
    if not path.is_file():
        raise ArchiveError(f"{path}: no such archive")
    raw = path.read_bytes()
    members: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:gz") as tar:
            for info in tar.getmembers():
                name = info.name
                if info.isdir():
                    continue
                if not info.isreg():
                    kind = "symlink" if info.issym() else "hard link" if info.islnk() else \
                        "special file"
                    raise ArchiveError(f"{path}: member {name} is a {kind}; only regular "
                                       "files are accepted")
                _check_name(name)
                if name in members:
                    raise ArchiveError(f"{path}: member {name} appears twice")
                handle = tar.extractfile(info)
                assert handle is not None  # a regular file
                members[name] = handle.read()
    except (tarfile.TarError, OSError, EOFError) as err:
        raise ArchiveError(f"{path}: not a readable .tar.gz ({err})") from err
    if MANIFEST not in members:
        raise ArchiveError(f"{path}: no {MANIFEST}; not a results archive (rnnrepro results "
                           "archives are made by `snakemake results/archive/<preset>.tar.gz`)")
    try:
        manifest = json.loads(members.pop(MANIFEST))
    except ValueError as err:
        raise ArchiveError(f"{path}: member {MANIFEST} is not JSON ({err})") from err
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArchiveError(f"{path}: {MANIFEST} has format "
                           f"{manifest.get('format') if isinstance(manifest, dict) else None!r},"
                           f" expected {FORMAT!r}")
    listed = manifest.get("files")
    if not isinstance(listed, dict) or CONFIG not in listed:
        raise ArchiveError(f"{path}: {MANIFEST} lists no files, or not {CONFIG}")
    for name in sorted(members):
        if name not in listed:
            raise ArchiveError(f"{path}: member {name} is not listed in {MANIFEST}")
    for name, expected in sorted(listed.items()):
        _check_name(name)
        if not name.endswith(ALLOWED_SUFFIXES):
            raise ArchiveError(f"{path}: member {name} is not a CSV or JSON file; results "
                               "archives carry data only (no checkpoint, nothing that unpickles)")
        if name not in members:
            raise ArchiveError(f"{path}: member {name}, listed in {MANIFEST}, is missing")
        if sha256(members[name]) != expected:
            raise ArchiveError(f"{path}: member {name} is corrupted (sha256 "
                               f"{sha256(members[name])}, the manifest says {expected})")
    try:
        json.loads(members[CONFIG])
    except ValueError as err:
        raise ArchiveError(f"{path}: member {CONFIG} is not JSON ({err})") from err
    return Archive(name=path.name, sha256=sha256(raw), manifest=manifest, members=members)


# What an import record says of each archive it holds runs of (``sources``).
SOURCE_KEYS = ("archive", "archive_sha256", "preset", "version", "commit")


def sources(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The archives an import record holds runs of (a record of one archive: itself)."""
    return list(record.get("sources") or [{key: record.get(key) for key in SOURCE_KEYS}])


def _added(old: Mapping[str, Any], archive: Archive) -> dict[str, Any]:
    """The record of ``old`` plus ``archive``'s runs: refused when the configs differ on a key
    that changes a training job, or when both hold one file with different contents."""
    from rnnrepro.sharing.training import differences

    found = differences(old["config"], archive.config)
    if found:
        key, before, now = found[0]
        raise ArchiveError(
            f"{archive.name}: cannot add its runs to the import of {old['archive']}: the "
            f"configs differ in {len(found)} key(s) that change a training job, e.g. {key} "
            f"({before!r} there, {now!r} here); unpack it with --replace instead")
    clash = sorted(name for name, digest in archive.manifest["files"].items()
                   if name != CONFIG and old["files"].get(name, digest) != digest)
    if clash:
        raise ArchiveError(f"{archive.name}: {clash[0]} (and {len(clash) - 1} more) differs "
                           f"from the same file imported from {old['archive']}; the two "
                           "archives trained the same run differently")
    new_source = {**{key: archive.manifest.get(key) for key in SOURCE_KEYS},
                  "archive": archive.name, "archive_sha256": archive.sha256}
    listed = [*sources(old), new_source]
    joined = {key: " + ".join(dict.fromkeys(str(s[key]) for s in listed))
              for key in SOURCE_KEYS}
    return {**old, **joined, "files": {**old["files"], **archive.manifest["files"]},
            "sources": listed}


def unpack(archive: Archive, results_dir: str | Path, *, replace: bool = False,
           add: bool = False) -> Path:
    """Write the training outputs of a checked archive to ``results/imported/`` (all at once:
    a staging folder renamed into place) with ``archive.json`` recording where they came
    from; return the folder. ``add`` keeps the runs imported before and adds these (configs
    agreeing): how runs of one preset trained on several machines come together."""
    target = Path(results_dir) / IMPORT_FOLDER
    if target.exists() and not (replace or add):
        raise ArchiveError(f"{target} exists (runs imported before); pass --add to add this "
                           "archive's runs to them, or --replace to import it instead")
    record = {**archive.manifest, "archive": archive.name, "archive_sha256": archive.sha256,
              "config": archive.config}
    staging = target.with_name(f".{IMPORT_FOLDER}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    if add and target.exists():
        record = _added(json.loads((target / IMPORT_RECORD).read_text()), archive)
        shutil.copytree(target, staging)
    for name, data in archive.members.items():
        if name == CONFIG:
            continue
        destination = staging / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(data)
    staging.mkdir(parents=True, exist_ok=True)
    (staging / IMPORT_RECORD).write_bytes(_json_bytes(record))
    if target.exists():
        aside = target.with_name(f".{IMPORT_FOLDER}.old")
        shutil.rmtree(aside, ignore_errors=True)
        os.replace(target, aside)
        os.replace(staging, target)
        shutil.rmtree(aside)
    else:
        os.replace(staging, target)
    return target


def _check_name(name: str) -> None:
    """Refuse absolute names, ``..`` and anything that is not a plain relative path."""
    parts = name.split("/")
    if (not name or name.startswith("/") or "\\" in name or ".." in parts
            or any(part in ("", ".") for part in parts) or ":" in parts[0]):
        raise ArchiveError(f"member {name!r} has an unsafe path (absolute, '..' or empty "
                           "parts); refusing the archive")


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, indent=1, sort_keys=True) + "\n").encode()
