"""The results archive: every training job's tidy outputs in one ``.tar.gz``.

Layout: ``manifest.json`` (format, preset, package version, git commit, and the sha256 of every
other member) and the members it lists: ``config.json`` (the resolved config of the run) and the
training outputs under their paths below ``results/`` (``memory/<rep>/lr<lr>/seed<s>/history.csv``
...), CSV and JSON only. A part archive (``results/archive/<preset>.part.tar.gz``) also carries,
for each unfinished run, the files it resumes from (:data:`rnnrepro.paths.RESUME_FILES`: its
``checkpoint.safetensors``, ``best.safetensors`` and ``history.partial.csv``), under the run's
folder, so that the run continues on another machine. Nothing in any archive unpickles.

Packing is here; unpacking a stranger's archive (streamed, bounded, atomic) is
:mod:`rnnrepro.results.unpacking`.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import posixpath
import tarfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

from rnnrepro.files import atomic_path
from rnnrepro.paths import BEST_FILE, CHECKPOINT_FILE, PARTIAL_HISTORY_FILE

FORMAT = "rnnrepro-results/1"
MANIFEST = "manifest.json"
CONFIG = "config.json"
ALLOWED_SUFFIXES = (".csv", ".json")
# Files that load by unpickling (torch.save, pickle, joblib): refused by name.
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib")
# Resume members: gzip level 1, as float tensors hardly compress (level 9 took ~4x as long).
STATE_COMPRESSLEVEL = 1
# Imported runs live in results/<preset>/imported/, beside the runs this clone trains.
IMPORT_FOLDER = "imported"
# The manifest of the unpacked archive, plus where it came from.
IMPORT_RECORD = "archive.json"


# What each resume member is, by its file name.
RESUME_KINDS = {CHECKPOINT_FILE: "checkpoint", BEST_FILE: "best", PARTIAL_HISTORY_FILE: "history"}


def resume_kind(name: str) -> str | None:
    """"checkpoint", "best" or "history" for a member an unfinished run resumes from (by its
    file name: :data:`rnnrepro.paths.RESUME_FILES`), else None."""
    return RESUME_KINDS.get(posixpath.basename(name))


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
    ``results/<preset>/imported/`` for a run imported from another archive)."""
    relative = posixpath.relpath(Path(path).as_posix(), Path(results_dir).as_posix())
    if relative.startswith(f"{IMPORT_FOLDER}/"):
        relative = relative[len(IMPORT_FOLDER) + 1:]
    check_name(relative)
    return relative


def pack(output: str | Path, files: Iterable[str], *, results_dir: str,
         config: Mapping[str, Any], preset: str, version: str, commit: str,
         code: Mapping[str, str] | None = None, resume: Iterable[str] = ()) -> dict[str, Any]:
    """Write the archive of ``files`` (training outputs below ``results_dir``) and of
    ``resume`` (unfinished runs' files, :data:`rnnrepro.paths.RESUME_FILES`); return its
    manifest. Without ``resume`` the archive is byte-identical for the same files and config.

    Each ``resume`` file is opened once, in the order given, and hashed and copied from that
    handle: a trainer replacing its checkpoint meanwhile (by a rename) does not change what is
    packed. Given a run's best weights before its checkpoint, the two are consistent: the
    checkpoint is as new or newer, and a resume rewrites best weights one best behind
    (:class:`rnnrepro.checkpoint.BestWeights`)."""
    members: dict[str, bytes] = {CONFIG: json_bytes(config)}
    for path in files:
        name = member_name(path, results_dir)
        if name in members:
            raise ArchiveError(f"{path}: a second file for archive member {name}")
        members[name] = Path(path).read_bytes()  # follows a symlink into the output cache
    with contextlib.ExitStack() as stack:
        states: dict[str, IO[bytes]] = {}
        for path in resume:
            name = member_name(path, results_dir)
            if name in members or name in states:
                raise ArchiveError(f"{path}: a second file for archive member {name}")
            try:
                states[name] = stack.enter_context(open(path, "rb"))
            except FileNotFoundError as err:
                raise ArchiveError(f"{path}: gone while packing (did the run finish?); pack "
                                   "again") from err
        digests = {name: sha256(data) for name, data in members.items()}
        digests.update({name: _file_sha256(handle) for name, handle in states.items()})
        manifest = {"format": FORMAT, "preset": preset, "version": version, "commit": commit,
                    "files": dict(sorted(digests.items()))}
        if code is not None:
            manifest["code"] = dict(code)
        _write(output, manifest, members, states)
    return manifest


def _file_sha256(handle: IO[bytes]) -> str:
    digest = hashlib.sha256()
    handle.seek(0)
    for chunk in iter(lambda: handle.read(2**20), b""):
        digest.update(chunk)
    return digest.hexdigest()


def _write(output: str | Path, manifest: Mapping[str, Any], members: Mapping[str, bytes],
           states: Mapping[str, IO[bytes]]) -> None:
    """The .tar.gz: the manifest, then every member by name. mtime 0 in the gzip header and in
    every data member: the same results, the same bytes. A resume member keeps its file's
    mtime (``rnnrepro progress`` reads a partial history's age)."""
    level = STATE_COMPRESSLEVEL if states else 9
    with (atomic_path(output) as partial, open(partial, "wb") as raw,
          gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0,
                        compresslevel=level) as zipped,
          tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar):
        info = tarfile.TarInfo(MANIFEST)
        data = json_bytes(manifest)
        info.size, info.mtime, info.mode = len(data), 0, 0o644
        tar.addfile(info, io.BytesIO(data))
        for name in sorted({*members, *states}):
            info = tarfile.TarInfo(name)
            info.mode = 0o644
            if name in members:
                info.size, info.mtime = len(members[name]), 0
                tar.addfile(info, io.BytesIO(members[name]))
            else:
                handle = states[name]
                stat = os.fstat(handle.fileno())
                info.size, info.mtime = stat.st_size, int(stat.st_mtime)
                handle.seek(0)
                tar.addfile(info, handle)


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
