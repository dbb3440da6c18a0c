"""Checksums of raw files: ``md5:<hex>`` or ``sha256:<hex>``, computed while streaming.

For gzip files the checksum is of the decompressed payload, because mirrors recompress the
same data (the container bytes differ, the payload does not).
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from dataclasses import dataclass
from pathlib import Path

from rnnrepro.data.errors import DataError

ALGORITHMS = {"md5": 32, "sha256": 64}
CHUNK = 1 << 20


class ChecksumError(DataError):
    """A file's checksum does not match the expected one (or the file cannot be read)."""


@dataclass(frozen=True)
class Checksum:
    """An expected checksum: algorithm and lowercase hex digest."""

    algorithm: str
    digest: str

    @classmethod
    def parse(cls, text: str) -> Checksum:
        """Parse ``md5:<32 hex>`` or ``sha256:<64 hex>``."""
        algorithm, _, digest = str(text).partition(":")
        digest = digest.strip().lower()
        length = ALGORITHMS.get(algorithm)
        if length is None or len(digest) != length or any(c not in "0123456789abcdef"
                                                          for c in digest):
            raise DataError(f"checksum {text!r} is not of the form md5:<32 hex digits> or "
                            "sha256:<64 hex digits>; fix it under data.files in config.yaml")
        return cls(algorithm, digest)

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.digest}"


def file_checksum(path: str | Path, algorithm: str, gzip_payload: bool = False) -> str:
    """Hex digest of a file, or of its decompressed payload when ``gzip_payload``."""
    digest = hashlib.new(algorithm)
    path = Path(path)
    try:
        opener = gzip.open if gzip_payload else open
        with opener(path, "rb") as fh:
            while block := fh.read(CHUNK):
                digest.update(block)
    except (gzip.BadGzipFile, EOFError, zlib.error) as err:
        raise ChecksumError(f"{path}: not a complete gzip file ({err})") from err
    return digest.hexdigest()


def verify_file(path: str | Path, expected: str | Checksum, gzip_payload: bool = False) -> None:
    """Raise :class:`ChecksumError` unless the file (or its gzip payload) has ``expected``."""
    expected = expected if isinstance(expected, Checksum) else Checksum.parse(expected)
    path = Path(path)
    if not path.is_file():
        raise ChecksumError(f"{path}: file not found")
    actual = file_checksum(path, expected.algorithm, gzip_payload)
    if actual != expected.digest:
        what = "decompressed payload" if gzip_payload else "file"
        raise ChecksumError(f"{path}: checksum mismatch: expected {expected}, the {what} has "
                            f"{expected.algorithm}:{actual}")


def verify_inputs(paths: list[str | Path], files: dict[str, dict]) -> None:
    """Check each input against ``files[<file name>]`` ({checksum, gzip_payload}) before parsing.

    Every prepare command calls this first: nothing is parsed before its checksum matched.
    """
    for path in map(Path, paths):
        entry = files.get(path.name)
        if entry is None or "checksum" not in entry:
            raise DataError(f"{path}: no checksum for {path.name!r} in the settings' 'files' "
                            f"(known: {sorted(files)}); refusing to parse an unverified file")
        try:
            verify_file(path, entry["checksum"], bool(entry.get("gzip_payload", False)))
        except ChecksumError as err:
            raise ChecksumError(f"{err}. Delete the file and rerun its download rule (or "
                                "check data.files in the config)") from err


def verified(paths: list[Path], settings: dict, dataset: str) -> dict[str, dict[str, str]]:
    """Verify a dataset's raw files against ``--settings``' ``files`` (config key
    ``data.files.<dataset>``) and return the manifest's record of them: each one's checksum."""
    from rnnrepro.data.errors import setting

    files = setting(settings, "files", f"data.files.{dataset}")
    verify_inputs(list(paths), files)
    return {"raw": {path.name: files[path.name]["checksum"] for path in paths}}
