"""Unpacking a results archive made by someone else, safely: streamed, bounded, atomic.

:func:`stage` reads the ``.tar.gz`` once, as a stream, into a fresh staging folder beside
``results/<preset>/imported/``. Each member is checked from its header before any of its data is
read: its type (regular files only; directory entries are skipped; links, devices, FIFOs and GNU
sparse members refused), its name (Python's extraction filter, PEP 706, plus ours: no NUL,
components the file system can hold, no file also used as a folder), its suffix (CSV or JSON; a
pickle's suffix named as such), its listing in the manifest (the first member) and its declared size
against :data:`LIMITS`. Even before that, each raw 512-byte tar header is checked before
:mod:`tarfile` parses it (:class:`_TarStream`): a PAX or GNU long-name header within
``Limits.extended_header_bytes``, at most ``Limits.extended_headers`` of them in a row, PAX records
well formed with a ``size`` that is a byte count, no GNU sparse header; so that Python's own header
parsing (quadratic in a PAX header's records before 3.11.10 and 3.12.6) never sees a large one. Data
are copied in chunks while their sha256 is computed, so memory does not grow with member size.
``manifest.json`` and ``config.json`` are validated against schemas (the config against the
pipeline's own). Any problem is one :class:`ArchiveError` naming the archive, the member or key, and
the problem; the staging folder is removed and ``results/`` is left as it was.

A part archive also holds unfinished runs' resume members (``checkpoint.safetensors``,
``best.safetensors``, ``history.partial.csv``), accepted only under a training run's folder
(:func:`is_run_folder`) and with the run's checkpoint. A safetensors member is
checked while it streams, before its tensors are copied (:mod:`rnnrepro.state_format`): header
length within the limit, the header JSON, every tensor's dtype allowed and its byte range inside the
data and matching its shape, the member's size equal to header plus data, and its JSON document
valid with every tensor its index names. :func:`unpack` puts them in the run folders
(``results/<preset>/renet/mnist/seed0/checkpoint.safetensors``), where the training rules resume
from them; the finished runs go to ``results/<preset>/imported/`` as usual.

:func:`install` then swaps the staged import in with renames only: the old import moved aside,
the new one moved in, the old one deleted last. :func:`recover` (run before every use of the
import) puts the old import back if a kill fell between the two renames, so a reader always
finds either the complete old import or the complete new one.

:func:`locked` makes ``rnnrepro results unpack`` take ``results/<preset>/.unpack.lock``
(``fcntl.flock``) for the whole unpack: a second unpack into the same results folder is refused
while one runs, instead of the two sharing the staging folder.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import hashlib
import io
import json
import logging
import math
import os
import posixpath
import re
import shutil
import tarfile
import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from rnnrepro.files import atomic_path
from rnnrepro.paths import CHECKPOINT_FILE, RESUME_FILES
from rnnrepro.results.archive import (
    ALLOWED_SUFFIXES,
    CONFIG,
    IMPORT_FOLDER,
    IMPORT_RECORD,
    MANIFEST,
    PICKLE_SUFFIXES,
    SOURCE_KEYS,
    ArchiveError,
    check_name,
    json_bytes,
    read_record,
    resume_kind,
    sources,
)
from rnnrepro.results.runs import is_run_folder
from rnnrepro.results.training import current_config
from rnnrepro.state_format import (
    HEADER_LIMIT,
    StateFileError,
    document,
    header_length,
    parse_header,
)


@dataclass(frozen=True)
class Limits:
    """What an archive may hold. Sized from the full preset's archive, the largest a real run
    makes, as estimated from config.yaml (it has not been run): 121 members, about 90 MB
    unpacked, its largest member an increment history of 51,201 evaluations, 3-5 MB at the
    52-100 bytes a row real histories take; each limit is over 10 times that, enough for ten
    seeds of every experiment.

    Resume members (a part archive's checkpoints and best weights) have limits of their own.
    The largest a real run writes is the Table 1 MNIST ReNet's checkpoint: 1.51 GB (weights and
    Adam's two moments of 125.9 M float32 parameters), its best weights 0.50 GB; CIFAR-10's and
    SVHN's checkpoints take 0.71 and 0.78 GB. ``state_bytes`` is over 5 times the largest;
    ``state_total_bytes`` holds the three ReNets of ten seeds unfinished at once (40 GB). Raise
    them here for wider models."""

    member_bytes: int = 64 * 2**20        # one CSV or JSON member
    total_bytes: int = 2 * 2**30          # every CSV and JSON member together, unpacked
    members: int = 20_000
    json_bytes: int = 4 * 2**20           # manifest.json and config.json, parsed in memory
    name_bytes: int = 512                 # a member's whole name
    component_bytes: int = 255            # one part of a name (NAME_MAX of common file systems)
    state_bytes: int = 8 * 2**30          # one checkpoint.safetensors or best.safetensors
    state_total_bytes: int = 64 * 2**30   # every such member together
    state_header_bytes: int = HEADER_LIMIT  # a safetensors header, parsed in memory (16 MiB)
    # A PAX extended or global header, or a GNU long name or link name: checked before Python's
    # tarfile parses it (it reads such a header whole into memory, and its PAX parsing is
    # quadratic in the records before 3.11.10 and 3.12.6; gzip packs a 1 GB long name into
    # 1 MB). `pack` writes one only for a name over 100 bytes (a path record of at most
    # name_bytes, 512); 8 KiB is 16 times that.
    extended_header_bytes: int = 8 * 2**10
    extended_headers: int = 4             # such headers in a row, before the member they describe


LIMITS = Limits()
CHUNK = 2**20
STAGING = f".{IMPORT_FOLDER}.partial"
ASIDE = f".{IMPORT_FOLDER}.old"
LOCK = ".unpack.lock"
log = logging.getLogger("rnnrepro")
MANIFEST_SCHEMA = "workflow/schemas/archive-manifest.schema.yaml"
# The config sections that decide what a run computes, each checked against its own schema.
# The rest (resources, device) only sizes or places jobs and may change between versions, so an
# archive from an older checkout still unpacks after it does.
CONFIG_SECTIONS = {"data": "workflow/schemas/data.schema.yaml",
                   "memory": "workflow/schemas/memory.schema.yaml",
                   "increment": "workflow/schemas/increment.schema.yaml",
                   "renet": "workflow/schemas/renet.schema.yaml"}


@dataclass(frozen=True)
class StagedArchive:
    """An archive checked and written to the staging folder."""

    name: str
    sha256: str
    manifest: dict[str, Any]
    config: dict[str, Any]
    folder: Path
    created: Path | None = None    # the results folder, when staging had to create it
    resume: tuple[str, ...] = ()   # the unfinished runs' members (names below results/)

    @property
    def finished_files(self) -> dict[str, str]:
        """The manifest's files but the resume members: what ``results/<preset>/imported/``
        holds."""
        return {name: digest for name, digest in self.manifest["files"].items()
                if name not in self.resume}


def discard(staged: StagedArchive) -> None:
    """Remove the staging folder (and the results folder staging created, if still empty):
    a refused archive leaves ``results/`` as it was."""
    remove(staged.folder)
    if staged.created is not None and not any(staged.created.iterdir()):
        staged.created.rmdir()


def _fail(archive: Path, member: str, problem: str) -> ArchiveError:
    if not member.isprintable():
        member = repr(member)       # a newline in a hostile name: the message stays one line
    return ArchiveError(f"{archive}: member {member}: {problem}")


def fresh_folder(path: Path) -> Path:
    """Create ``path`` as a new empty folder; whatever was there (a folder, a file, a symlink,
    which is removed and never followed) is removed first."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def remove(path: Path) -> None:
    """Remove a staging or set-aside path of any kind, without following a symlink."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _validate_config(config: Any, root: Path, archive: Path) -> None:
    """The archived config: a preset name and every section that decides what a run computes,
    each valid under its schema."""
    if not isinstance(config, dict):
        raise _fail(archive, CONFIG, f"must be a JSON object, got {type(config).__name__}")
    if not isinstance(config.get("preset"), str):
        raise _fail(archive, CONFIG, "lacks 'preset' (the preset's name, a string)")
    for section, schema in CONFIG_SECTIONS.items():
        if section not in config:
            raise _fail(archive, CONFIG, f"lacks the '{section}' section")
        _validate(config[section], root / schema, archive, f"{CONFIG} {section}")


def _validate(document: Any, schema: Path, archive: Path, member: str) -> None:
    """Validate a parsed JSON member against a JSON schema (``$ref``s are files beside it)."""
    from rnnrepro.config_schema import ConfigError, validate

    if not isinstance(document, dict):
        raise _fail(archive, member, f"must be a JSON object, got {type(document).__name__}")
    try:
        validate(document, schema, what="")
    except ConfigError as err:
        raise _fail(archive, member, f"does not match {schema.name}: {str(err).strip()[:400]}"
                    ) from err


def _parse_json(data: bytes, archive: Path, member: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as err:
        raise _fail(archive, member, f"not valid JSON ({type(err).__name__})") from err


def _check_header(info: tarfile.TarInfo, archive: Path, folder: Path,
                  seen_files: set[str], seen_folders: set[str]) -> None:
    """Everything a member's header tells, checked before its data are read."""
    name = info.name
    if "\x00" in name:
        raise _fail(archive, repr(name), "a member name holds a NUL byte")
    if not name.isprintable():
        raise _fail(archive, repr(name), "a member name holds a control character or bytes "
                    "that are not UTF-8")
    if info.size < 0:
        raise _fail(archive, name, f"declares a negative size ({info.size:,} bytes)")
    if len(name.encode()) > LIMITS.name_bytes or any(
            len(part.encode()) > LIMITS.component_bytes for part in name.split("/")):
        raise _fail(archive, name[:80] + "...", "a member name longer than the file system "
                    f"holds ({LIMITS.component_bytes} bytes a part, {LIMITS.name_bytes} in all)")
    if info.issparse():
        raise _fail(archive, name, "a GNU sparse member; only regular files are accepted")
    if not info.isreg():
        kind = ("symlink" if info.issym() else "hard link" if info.islnk() else
                "device" if info.ischr() or info.isblk() else "FIFO" if info.isfifo() else
                "special member")
        raise _fail(archive, name, f"a {kind}; only regular files are accepted")
    try:
        tarfile.data_filter(info, str(folder))
    except tarfile.FilterError as err:
        raise _fail(archive, name, f"refused by the extraction filter ({err})") from err
    try:
        check_name(name)
    except ArchiveError as err:
        raise _fail(archive, name, "an unsafe path (absolute, '..' or empty parts)") from err
    parents = {"/".join(name.split("/")[:i]) for i in range(1, name.count("/") + 1)}
    if name in seen_files or name in seen_folders or parents & seen_files:
        raise _fail(archive, name, "appears twice, or is both a file and a folder")
    seen_files.add(name)
    seen_folders.update(parents)


def _copy(source: IO[bytes], destination: Path, size: int, archive: Path, name: str,
          prefix: bytes = b"") -> str:
    """Copy ``prefix`` (the member's first bytes, already read) and the rest, exactly ``size``
    bytes in all, in chunks (refusing a symlink or existing file at the destination); return
    their sha256."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    digest, copied = hashlib.sha256(prefix), len(prefix)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    with os.fdopen(os.open(destination, flags, 0o644), "wb") as out:
        out.write(prefix)
        while chunk := source.read(min(CHUNK, size - copied) or CHUNK):
            copied += len(chunk)
            if copied > size:
                break
            digest.update(chunk)
            out.write(chunk)
    if copied != size:
        raise _fail(archive, name, f"holds {copied} bytes, its header declares {size}")
    return digest.hexdigest()


def _read_exact(source: IO[bytes], size: int, archive: Path, name: str) -> bytes:
    data = source.read(size)
    if len(data) != size:
        raise _fail(archive, name, f"ends after {len(data)} bytes of its header's {size}")
    return data


def _copy_state(source: IO[bytes], destination: Path, info: tarfile.TarInfo, archive: Path,
                kind: str) -> str:
    """Check a safetensors member's header and JSON document from the stream (its first 8 + N
    bytes, N within the limit), then copy it; return its sha256."""
    name = info.name
    try:
        prefix = _read_exact(source, 8, archive, name)
        length = header_length(prefix, LIMITS.state_header_bytes)
        if 8 + length > info.size:
            raise StateFileError(f"its header of {length:,} bytes does not fit in its "
                                 f"{info.size:,}")
        raw = _read_exact(source, length, archive, name)
        document(parse_header(raw, info.size), kind)
    except StateFileError as err:
        raise _fail(archive, name, f"not a valid training-state file ({err})") from err
    return _copy(source, destination, info.size, archive, name, prefix + raw)


def _member_kind(name: str, archive: Path) -> str:
    """"data" (CSV or JSON), or the resume kind of a member under a training run's folder;
    anything else is refused."""
    kind = resume_kind(name)
    if kind is not None:
        if not is_run_folder(posixpath.dirname(name)):
            raise _fail(archive, name, "a checkpoint, best weights or partial history outside "
                        "a training run's folder (e.g. renet/mnist/seed0/)")
        return kind
    if name.endswith(".safetensors"):
        raise _fail(archive, name, f"a safetensors file other than a run's {CHECKPOINT_FILE} "
                    "or best weights")
    if name.lower().endswith(PICKLE_SUFFIXES):
        raise _fail(archive, name, "would need unpickling to load; archives carry nothing "
                    f"that unpickles (checkpoints travel as {CHECKPOINT_FILE})")
    if not name.endswith(ALLOWED_SUFFIXES):
        raise _fail(archive, name, "not a CSV, JSON or safetensors file; results archives "
                    "carry data and safetensors checkpoints only")
    return "data"


def _members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    while (info := tar.next()) is not None:
        yield info


BLOCK = tarfile.BLOCKSIZE
# Header types whose data is more header: what each is, for the messages.
EXTENDED = {b"x": "PAX extended header", b"X": "PAX extended header (Solaris)",
            b"g": "PAX global header", b"L": "GNU long name", b"K": "GNU long link name"}
# A PAX record, "<length> <keyword>=<value>\n", found as tarfile finds it.
PAX_RECORD = re.compile(rb"(\d+) ([^=]+)=")


def _header_size(field: bytes) -> int | None:
    """The size field of a tar header (octal digits, or base-256 with a first byte of 0x80 or
    0xff for negative), or None when tarfile would refuse it anyway."""
    if field[:1] in (b"\x80", b"\xff"):
        value = int.from_bytes(field[1:], "big")
        return value - 256 ** (len(field) - 1) if field[:1] == b"\xff" else value
    digits = field.split(b"\0", 1)[0].strip()
    try:
        return int(digits or b"0", 8)
    except ValueError:
        return None


class _TarStream:
    """The decompressed tar stream for :mod:`tarfile` (mode ``r:``): read forward only (a seek
    forward reads and drops), with every header tarfile is about to parse checked first by
    :meth:`check_header` (called from :func:`_checked_info`'s ``fromtarfile``)."""

    def __init__(self, raw: IO[bytes], archive: Path) -> None:
        self.raw, self.archive = raw, archive
        self.position = 0
        self.ahead = b""        # read by peek, returned first by read
        self.extended = 0       # extended headers in a row

    def peek(self, size: int) -> bytes:
        if len(self.ahead) < size:
            self.ahead += self.raw.read(size - len(self.ahead))
        return self.ahead[:size]

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            raise tarfile.ReadError("an unbounded read of the tar stream")
        data, self.ahead = self.ahead[:size], self.ahead[size:]
        if len(data) < size:
            data += self.raw.read(size - len(data))
        self.position += len(data)
        return data

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset += self.position
        elif whence != io.SEEK_SET:
            raise io.UnsupportedOperation("the tar stream seeks from its start only")
        if offset < self.position:
            raise tarfile.ReadError(f"a header pointing back in the stream (to byte {offset:,} "
                                    f"from {self.position:,})")
        while self.position < offset and self.read(min(CHUNK, offset - self.position)):
            pass
        return self.position

    def _refuse(self, offset: int, problem: str) -> ArchiveError:
        return ArchiveError(f"{self.archive}: the tar header at byte {offset:,} of the "
                            f"unpacked stream: {problem}")

    def check_header(self) -> None:
        """Check the header block at the current position, and an extended header's data,
        before tarfile parses them; anything tarfile refuses itself (end of archive, a short
        or malformed block) is left to it."""
        offset = self.position
        block = self.peek(BLOCK)
        if len(block) < BLOCK or not block.strip(b"\0"):
            return
        kind = block[156:157]
        if kind == tarfile.GNUTYPE_SPARSE:
            name = block[:100].split(b"\0", 1)[0].decode("utf-8", "replace")
            raise _fail(self.archive, name, "a GNU sparse member; only regular files are "
                        "accepted")
        if kind not in EXTENDED:
            self.extended = 0
            return
        what = EXTENDED[kind]
        self.extended += 1
        if self.extended > LIMITS.extended_headers:
            raise self._refuse(offset, f"more than {LIMITS.extended_headers} extended headers "
                               "(PAX or GNU long names) in a row")
        size = _header_size(block[124:136])
        if size is None:
            return
        if not 0 <= size <= LIMITS.extended_header_bytes:
            raise self._refuse(offset, f"a {what} of {size:,} bytes, over the limit of "
                               f"{LIMITS.extended_header_bytes:,}")
        if kind in (b"x", b"X", b"g"):
            padded = -(-size // BLOCK) * BLOCK
            self._check_pax(self.peek(BLOCK + padded)[BLOCK:], offset, what)

    def _check_pax(self, data: bytes, offset: int, what: str) -> None:
        """PAX records as tarfile reads them (all of the padded data): each well formed, a
        ``size`` a byte count, none describing a GNU sparse file."""
        position = 0
        while match := PAX_RECORD.match(data, position):
            digits, keyword = match.groups()
            length = int(digits) if len(digits) <= 6 else 0
            end = position + length
            if end < match.end() + 1 or end > len(data) or data[end - 1:end] != b"\n":
                raise self._refuse(offset, f"a malformed {what} (a record at byte "
                                   f"{position:,} of it)")
            value = data[match.end():end - 1]
            if keyword == b"size" and not re.fullmatch(rb"[0-9]{1,20}", value):
                shown = value[:40].decode("ascii", "replace")
                raise self._refuse(offset, f"a {what} whose size {shown!r} is not a byte "
                                   "count")
            if keyword.startswith(b"GNU.sparse."):
                raise self._refuse(offset, f"a {what} describing a GNU sparse member; only "
                                   "regular files are accepted")
            position = end


def _checked_info(stream: _TarStream) -> type[tarfile.TarInfo]:
    """A TarInfo class whose ``fromtarfile`` (tarfile calls it for every header, including
    the one after a PAX or GNU long-name header) checks the header in ``stream`` first."""

    class CheckedInfo(tarfile.TarInfo):
        @classmethod
        def fromtarfile(cls, tar: tarfile.TarFile) -> tarfile.TarInfo:
            stream.check_header()
            return super().fromtarfile(tar)

    return CheckedInfo


@contextlib.contextmanager
def _open_tar(archive: Path) -> Iterator[tarfile.TarFile]:
    """The archive opened as a stream of members, every header checked before tarfile parses
    it (:class:`_TarStream`)."""
    with gzip.open(archive, "rb") as raw:
        stream = _TarStream(raw, archive)
        with tarfile.open(fileobj=stream, mode="r:", tarinfo=_checked_info(stream)) as tar:
            yield tar


@dataclass
class _Sizes:
    """What the archive's members declare so far, held against :data:`LIMITS` as they come."""

    archive: Path
    count: int = 0
    total: int = 0
    state_total: int = 0

    def count_member(self, name: str) -> None:
        self.count += 1
        if self.count > LIMITS.members:
            raise _fail(self.archive, name, f"more than {LIMITS.members} members")

    def add(self, name: str, size: int, state: bool) -> None:
        """A member's declared size: under its own limit and the running totals'."""
        limit = (LIMITS.json_bytes if name == CONFIG else
                 LIMITS.state_bytes if state else LIMITS.member_bytes)
        if size > limit:
            raise _fail(self.archive, name, f"declares {size:,} bytes, over the limit of "
                        f"{limit:,}")
        if state:
            self.state_total += size
            if self.state_total > LIMITS.state_total_bytes:
                raise _fail(self.archive, name, "the checkpoints and best weights add up to "
                            f"over {LIMITS.state_total_bytes:,} bytes")
        else:
            self.total += size
            if self.total > LIMITS.total_bytes:
                raise _fail(self.archive, name, f"the members add up to over "
                            f"{LIMITS.total_bytes:,} bytes")


def _read_manifest(tar: tarfile.TarFile, info: tarfile.TarInfo, archive: Path,
                   root: Path) -> dict[str, Any]:
    """The first member, which must be the manifest: parsed and checked against its schema."""
    name = info.name
    if name != MANIFEST:
        raise _fail(archive, name, f"the first member must be {MANIFEST} (archives are made "
                    "by `snakemake results/archive/<preset>.tar.gz`)")
    if info.size > LIMITS.json_bytes:
        raise _fail(archive, name, f"declares {info.size:,} bytes, over the limit of "
                    f"{LIMITS.json_bytes:,}")
    handle = tar.extractfile(info)
    assert handle is not None
    manifest = _parse_json(handle.read(info.size), archive, name)
    _validate(manifest, root / MANIFEST_SCHEMA, archive, name)
    if len(manifest["files"]) > LIMITS.members:
        raise _fail(archive, name, f"lists more than {LIMITS.members} members")
    return manifest


def _extract(tar: tarfile.TarFile, info: tarfile.TarInfo, folder: Path, archive: Path,
             kind: str, expected: str) -> None:
    """Copy one member into ``folder`` (a checkpoint or best weights checked as such) and
    check its sha256 against the manifest's; a resume member keeps its age (for
    ``progress``)."""
    handle = tar.extractfile(info)
    assert handle is not None
    name = info.name
    if kind in ("checkpoint", "best"):
        digest = _copy_state(handle, folder / name, info, archive, kind)
    else:
        digest = _copy(handle, folder / name, info.size, archive, name)
    if digest != expected:
        raise _fail(archive, name, f"corrupted (sha256 {digest}, the manifest says {expected})")
    if kind != "data":
        mtime = info.mtime if math.isfinite(info.mtime) else 0
        mtime = min(max(mtime, 0), time.time())
        os.utime(folder / name, (mtime, mtime))


def _stream(archive: Path, folder: Path, root: Path
            ) -> tuple[dict[str, Any], dict[str, Any], tuple[str, ...]]:
    """Check and copy every member into ``folder``; return the manifest, the config and the
    resume members."""
    manifest: dict[str, Any] | None = None
    config: Any = None
    seen_files: set[str] = set()
    seen_folders: set[str] = set()
    resume: list[str] = []
    sizes = _Sizes(archive)
    with _open_tar(archive) as tar:
        for info in _members(tar):
            if info.isdir():
                continue    # folders are made as files need them
            sizes.count_member(info.name)
            _check_header(info, archive, folder, seen_files, seen_folders)
            if manifest is None:
                manifest = _read_manifest(tar, info, archive, root)
                continue
            if info.name not in manifest["files"]:
                raise _fail(archive, info.name, f"not listed in {MANIFEST}")
            kind = _member_kind(info.name, archive)
            sizes.add(info.name, info.size, kind in ("checkpoint", "best"))
            _extract(tar, info, folder, archive, kind, manifest["files"][info.name])
            if info.name == CONFIG:
                config = _parse_json((folder / CONFIG).read_bytes(), archive, CONFIG)
            if kind != "data":
                resume.append(info.name)
    if manifest is None:
        raise _fail(archive, MANIFEST, "missing; not a results archive")
    return manifest, _checked_config(archive, folder, root, manifest, config), \
        _checked_resume(archive, manifest, seen_files, resume)


def _checked_config(archive: Path, folder: Path, root: Path, manifest: dict[str, Any],
                    config: Any) -> dict[str, Any]:
    """The archive's config, upgraded to the current format, valid, and of the manifest's
    preset; its staged copy removed (it is not a results file)."""
    config = current_config(config)
    _validate_config(config, root, archive)
    if config["preset"] != manifest["preset"]:
        raise _fail(archive, CONFIG, f"preset {config['preset']!r}, but {MANIFEST} says "
                    f"{manifest['preset']!r}: the two must name the same preset")
    (folder / CONFIG).unlink()
    return config


def _checked_resume(archive: Path, manifest: dict[str, Any], seen_files: set[str],
                    resume: list[str]) -> tuple[str, ...]:
    """Every listed member arrived, and every resume member has its run's checkpoint."""
    missing = sorted(set(manifest["files"]) - seen_files)
    if missing:
        raise _fail(archive, missing[0], f"listed in {MANIFEST} but missing "
                    f"({len(missing)} in all)")
    lacking = sorted(name for name in resume
                     if f"{posixpath.dirname(name)}/{CHECKPOINT_FILE}" not in resume)
    if lacking:
        what = "best weights" if resume_kind(lacking[0]) == "best" else "a partial history"
        raise _fail(archive, lacking[0], f"{what} without the run's {CHECKPOINT_FILE} (which "
                    "the archive lacks): nothing to resume from")
    return tuple(sorted(resume))


def stage(archive: str | Path, results_dir: str | Path, root: str | Path = ".") -> StagedArchive:
    """Check ``archive`` while streaming it into the staging folder (see the module docstring);
    on any problem remove the folder and raise one :class:`ArchiveError`."""
    archive, root = Path(archive), Path(root)
    if not archive.is_file():
        raise ArchiveError(f"{archive}: no such archive")
    if not hasattr(tarfile, "data_filter"):
        raise ArchiveError("unpacking archives needs Python's tar extraction filters "
                           "(3.10.12, 3.11.4, 3.12 or newer); upgrade Python")
    results = Path(results_dir)
    created = None if results.exists() else results
    recover(results)
    folder = fresh_folder(results / STAGING)
    failed = StagedArchive(archive.name, "", {}, {}, folder, created)
    try:
        manifest, config, resume = _stream(archive, folder, root)
    except ArchiveError:
        discard(failed)
        raise
    except (tarfile.TarError, zlib.error, EOFError, OSError, UnicodeError, ValueError,
            OverflowError, RecursionError) as err:
        discard(failed)
        if _disk_full(err):
            raise _disk_full_error(archive, results, err) from err
        message = " ".join(f"{type(err).__name__}: {err}".split())[:400]
        raise ArchiveError(f"{archive}: not a readable .tar.gz ({message})") from err
    except BaseException:
        discard(failed)     # an unforeseen error (or Ctrl-C): no staging folder left either
        raise
    return StagedArchive(archive.name, file_sha256(archive), manifest, config, folder, created,
                         resume)


@contextlib.contextmanager
def locked(results_dir: str | Path) -> Iterator[None]:
    """Hold the unpack lock of ``results_dir`` (``.unpack.lock`` in it, taken with
    ``fcntl.flock`` without waiting) for the ``with`` block: one unpack at a time per results
    folder, the others refused by an :class:`ArchiveError` naming the folder (and the holder's
    pid, which the lock file records). The kernel drops the lock of a killed unpack; the next
    one then cleans its staging folder (:func:`stage`). The folder is created if missing, and
    removed again if still empty afterwards; the lock file is removed on release, while held
    (a waiter that opened it meanwhile finds, once it has the lock, that the path no longer
    names its file, and opens it afresh). Without ``fcntl`` (not POSIX) nothing is locked."""
    try:
        import fcntl
    except ImportError:
        log.debug("no fcntl here: unpacking into %s without a lock", results_dir)
        yield
        return
    results = Path(results_dir)
    created = not results.exists()
    fd = _lock(results, fcntl)
    try:
        yield
    finally:
        if fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(results / LOCK)
            os.close(fd)
        if created:
            with contextlib.suppress(OSError):
                results.rmdir()     # only if empty: nothing was imported


def _lock(results: Path, fcntl: Any) -> int | None:
    """Take the lock; return its file descriptor (None when the file system cannot lock)."""
    path = results / LOCK
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(1000):       # each retry means a holder released meanwhile
        try:
            results.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, flags, 0o644)
        except FileNotFoundError:
            continue            # the folder removed by a releasing unpack: make it again
        except OSError as err:
            raise ArchiveError(f"{results}: cannot open the unpack lock {path} ({err})") from err
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            os.close(fd)
            if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                log.debug("cannot lock %s (%s): unpacking without a lock", path, err)
                return None
            pid = f" (pid {holder})" if holder.isdigit() else ""
            raise ArchiveError(f"{results}: another `rnnrepro results unpack`{pid} is "
                               "unpacking into this results folder; wait for it to end, then "
                               "unpack again") from err
        try:
            current = os.stat(path, follow_symlinks=False)
        except FileNotFoundError:
            current = None
        if current is not None and os.path.samestat(os.fstat(fd), current):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            return fd
        os.close(fd)            # locked a file its holder had removed: open the new one
    raise ArchiveError(f"{results}: cannot take the unpack lock {path}; try again")


def _disk_full(err: BaseException) -> bool:
    return isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT)


def _disk_full_error(archive: str | Path, results: Path, err: OSError) -> ArchiveError:
    return ArchiveError(f"{archive}: disk full while unpacking into {results} "
                        f"({err.strerror}); free some space there and unpack again")


def recover(results_dir: str | Path) -> None:
    """Finish or undo an interrupted swap: with no import but one set aside, the set-aside
    (complete, old) import is put back; a set-aside one beside a complete import is deleted."""
    target = Path(results_dir) / IMPORT_FOLDER
    aside = Path(results_dir) / ASIDE
    if aside.is_symlink() or not aside.exists():
        remove(aside)
        return
    if not target.exists() and (aside / IMPORT_RECORD).exists():
        os.replace(aside, target)
    else:
        remove(aside)


def install(staged: StagedArchive, results_dir: str | Path, record: Mapping[str, Any]) -> Path:
    """Write ``record`` into the staged folder and swap it in for ``results/<preset>/imported/``
    with renames only (old aside, new in, old deleted last)."""
    target = Path(results_dir) / IMPORT_FOLDER
    aside = Path(results_dir) / ASIDE
    (staged.folder / IMPORT_RECORD).write_bytes(json_bytes(dict(record)))
    remove(aside)
    if target.exists() or target.is_symlink():
        os.replace(target, aside)
    os.replace(staged.folder, target)
    remove(aside)
    return target


def _added(old: Mapping[str, Any], staged: StagedArchive) -> dict[str, Any]:
    """The record of ``old`` plus ``staged``'s runs: refused when the configs differ on a key
    that changes a training job, or when both hold one file with different contents."""
    from rnnrepro.results.training import differences

    found = differences(old["config"], staged.config)
    if found:
        key, before, now = found[0]
        raise ArchiveError(
            f"{staged.name}: cannot add its runs to the import of {old['archive']}: the "
            f"configs differ in {len(found)} key(s) that change a training job, e.g. {key} "
            f"({before!r} there, {now!r} here); unpack it with --replace instead")
    files = staged.finished_files
    clash = sorted(name for name, digest in files.items()
                   if name != CONFIG and old["files"].get(name, digest) != digest)
    if clash:
        raise ArchiveError(f"{staged.name}: {clash[0]} (and {len(clash) - 1} more) differs "
                           f"from the same file imported from {old['archive']}; the two "
                           "archives trained the same run differently")
    new_source = {**{key: staged.manifest.get(key) for key in SOURCE_KEYS},
                  "archive": staged.name, "archive_sha256": staged.sha256}
    listed = [*sources(old), new_source]
    joined = {key: " + ".join(dict.fromkeys(str(s[key]) for s in listed))
              for key in SOURCE_KEYS if key != "code"}
    codes = [s.get("code") for s in listed]
    joined["code"] = codes[0] if all(code == codes[0] for code in codes) else None
    return {**old, **joined, "files": {**old["files"], **files}, "sources": listed}


def _check_resume(staged: StagedArchive, results_dir: Path) -> None:
    """Refuse to put an unfinished run's file where this clone has another one: a run trained
    here too (an identical file, e.g. of an unpack done before, is fine)."""
    for name in staged.resume:
        destination = results_dir / name
        if not (destination.exists() or destination.is_symlink()):
            continue
        if destination.is_file() and file_sha256(destination) == staged.manifest["files"][name]:
            continue
        run = destination.parent
        raise ArchiveError(
            f"{staged.name}: {destination} exists and differs from the archive's (this clone "
            f"has trained run {run} too); delete the run's {', '.join(RESUME_FILES)} to "
            "continue from the archive's checkpoint, or keep yours and do not unpack this "
            "archive here")


def _place(source: Path, destination: Path) -> None:
    """Move a staged file to its run folder by a rename (a copy and a rename across file
    systems, e.g. a results/<preset>/renet symlinked to scratch)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(source, destination)
    except OSError as err:
        if err.errno != errno.EXDEV:
            raise
        with atomic_path(destination) as partial:
            shutil.copy2(source, partial)
        source.unlink()


def place_resume(staged: StagedArchive, results_dir: str | Path) -> list[str]:
    """Move the unfinished runs' files from staging into their run folders, each run's
    checkpoint last (a kill in between leaves a run without a checkpoint, which trains from
    the start, never a checkpoint without its best weights); return the run folders."""
    results = Path(results_dir)
    runs = sorted({posixpath.dirname(name) for name in staged.resume})
    for run in runs:
        for file in RESUME_FILES:
            name = f"{run}/{file}"
            if name not in staged.resume:
                continue
            source, destination = staged.folder / name, results / name
            if destination.is_file() and not destination.is_symlink():
                source.unlink()     # the same file (checked by _check_resume)
            else:
                _place(source, destination)
        folder = staged.folder / run
        while folder != staged.folder and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent
    return runs


def unpack(staged: StagedArchive, results_dir: str | Path, *, replace: bool = False,
           add: bool = False) -> Path | None:
    """Install a staged archive's finished runs as ``results/<preset>/imported/`` with
    ``archive.json`` recording where they came from, and put its unfinished runs' files in their run
    folders; return the import folder (None when the archive holds no finished run: the import is
    left as it was). ``add`` keeps the runs imported before and adds these (configs agreeing): how
    runs of one preset trained on several machines come together."""
    target = Path(results_dir) / IMPORT_FOLDER
    finished = [name for name in staged.finished_files if name != CONFIG]
    try:
        if finished and target.exists() and not (replace or add):
            raise ArchiveError(f"{target} exists (runs imported before); pass --add to add "
                               "this archive's runs to them, or --replace to import it instead")
        _check_resume(staged, Path(results_dir))
        record = {**staged.manifest, "files": staged.finished_files, "archive": staged.name,
                  "archive_sha256": staged.sha256, "config": staged.config}
        if finished and add and target.exists():
            old = read_record(results_dir)
            record = _added(old, staged)
            for name in old["files"]:
                if name != CONFIG and name not in staged.manifest["files"]:
                    destination = staged.folder / name
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(target / name, destination)
    except (ArchiveError, OSError) as err:
        discard(staged)
        if _disk_full(err):
            raise _disk_full_error(staged.name, Path(results_dir), err) from err
        raise err if isinstance(err, ArchiveError) else ArchiveError(str(err)) from err
    try:
        place_resume(staged, results_dir)
    except OSError as err:
        discard(staged)
        if _disk_full(err):
            raise _disk_full_error(staged.name, Path(results_dir), err) from err
        raise ArchiveError(f"{staged.name}: cannot put the unfinished runs' files in place "
                           f"({err}); unpack it again") from err
    if not finished:
        discard(staged)
        return None
    return install(staged, results_dir, record)
