"""Read members of a tar archive without trusting its member names.

Every member is checked before anything is read: absolute paths, ``..`` components, links and
device files are refused (a crafted archive could otherwise write outside the target folder).
Members are read into memory, so nothing is written to disk at all.
"""

from __future__ import annotations

import tarfile
import zlib
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from rnnrepro.data.errors import DataError


class UnsafeArchiveError(DataError):
    """An archive member could escape the extraction folder or is not a plain file/folder."""


def check_member(member: tarfile.TarInfo, archive: str | Path) -> str:
    """Return the member's normalised name, or raise UnsafeArchiveError."""
    name = member.name
    path = PurePosixPath(name)
    if path.is_absolute() or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchiveError(f"{archive}: member {name!r} has an absolute path; refusing "
                                 "to extract (the archive is not the expected one)")
    if ".." in path.parts or ".." in PurePosixPath(name.replace("\\", "/")).parts:
        raise UnsafeArchiveError(f"{archive}: member {name!r} points outside the extraction "
                                 "folder ('..'); refusing to extract")
    if member.issym() or member.islnk():
        raise UnsafeArchiveError(f"{archive}: member {name!r} is a link (to "
                                 f"{member.linkname!r}); refusing to extract")
    if not (member.isfile() or member.isdir()):
        raise UnsafeArchiveError(f"{archive}: member {name!r} is not a regular file or folder; "
                                 "refusing to extract")
    return str(path)


def read_members(archive: str | Path, names: Iterable[str]) -> dict[str, bytes]:
    """Contents of the regular-file members ``names`` of a (compressed) tar archive.

    Every member of the archive is checked with :func:`check_member`, wanted or not.
    """
    wanted = set(names)
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                name = check_member(member, archive)
                if name in wanted and member.isfile():
                    handle = tar.extractfile(member)
                    assert handle is not None
                    found[name] = handle.read()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as err:
        raise DataError(f"{archive}: cannot read the tar archive ({err}); delete it and rerun "
                        "its download rule") from err
    missing = sorted(wanted - found.keys())
    if missing:
        raise DataError(f"{archive}: members {missing} are missing; is it the right archive?")
    return found
