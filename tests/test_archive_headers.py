"""Tar headers a hostile results archive could use against Python's own tar parsing: every
extended header (PAX, GNU long name) is bounded before :mod:`tarfile` parses it, so that its
quadratic PAX parsing (before CPython 3.11.10 and 3.12.6) and 2 GB for 1 MB of long names never
happen; a negative or absurd size, a sparse map in a PAX header, a full disk: each ends in exit
2 with one line, ``results/`` unchanged and no staging folder left (``refused``)."""

from __future__ import annotations

import errno
import gzip
import json
import os
import tarfile
import time
from pathlib import Path

import pytest

from conftest import QUICK, REPO
from rnnrepro.config_types import load
from rnnrepro.results import unpacking
from test_archive_hostile import RUN, entry, good_members, manifest_of, refused


@pytest.fixture(scope="module")
def members() -> dict[str, bytes]:
    return good_members(json.dumps(load(REPO, [REPO / QUICK])).encode())


def padded(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 512)


def build(path: Path, members: dict[str, bytes], *tail: tuple[tarfile.TarInfo, bytes] | bytes,
          manifest: dict | None = None) -> Path:
    """A .tar.gz of the manifest (listing ``members``, unless given), ``members``, then
    ``tail``: entries (a header written by tarfile, PAX format, and its data) or raw bytes."""
    manifest = manifest_of(members) if manifest is None else manifest
    entries = [entry("manifest.json", json.dumps(manifest).encode()),
               *(entry(name, data) for name, data in members.items()), *tail]
    raw = b"".join(item if isinstance(item, bytes) else
                   item[0].tobuf(format=tarfile.PAX_FORMAT) + padded(item[1])
                   for item in entries)
    path.write_bytes(gzip.compress(raw + b"\0" * 1024, mtime=0))
    return path


def pax_record(keyword: str, value: str) -> bytes:
    """One PAX record, "<length> <keyword>=<value>\\n", its length counting itself."""
    body = f" {keyword}={value}\n".encode()
    length = len(body) + 1
    while len(str(length)) + len(body) != length:
        length += 1
    return str(length).encode() + body


def extended(kind: bytes, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    """A raw extended header (PAX ``x``/``g``, GNU ``L``) holding ``data``."""
    info = tarfile.TarInfo("././@PaxHeader" if kind in (b"x", b"g") else "././@LongLink")
    info.type, info.size = kind, len(data)
    return info.tobuf(format=tarfile.USTAR_FORMAT) + padded(data)


def with_header_size(info: tarfile.TarInfo, field: bytes) -> bytes:
    """``info``'s ustar header with its size field replaced (the checksum made right)."""
    block = bytearray(info.tobuf(format=tarfile.USTAR_FORMAT))
    block[124:136] = field
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


def timed_refusal(tmp_path: Path, path: Path, capsys, *expected: str) -> float:
    start = time.perf_counter()
    refused(tmp_path, path, capsys, *expected)
    return time.perf_counter() - start


def test_a_pax_header_of_100_kb_is_refused_before_tarfile_parses_it(tmp_path, capsys,
                                                                    members):
    records = b"".join(pax_record(f"comment{i}", "x" * 80) for i in range(1100))
    assert len(records) > 100_000
    path = build(tmp_path / "pax.tar.gz", members, extended(b"x", records),
                 entry(f"{RUN}/metrics.json", b"{}"))
    seconds = timed_refusal(tmp_path, path, capsys, "PAX extended header of",
                            "over the limit of 8,192")
    assert seconds < 2, f"{seconds:.1f} s"


def test_a_pax_global_header_of_100_kb_is_refused(tmp_path, capsys, members):
    records = pax_record("comment", "x" * 100_000)
    path = build(tmp_path / "global.tar.gz", members, extended(b"g", records))
    refused(tmp_path, path, capsys, "PAX global header of 100,")


def test_a_gnu_long_name_of_100_kb_is_refused(tmp_path, capsys, members):
    info, data = entry(f"memory/{'x' * 100_000}.csv", b"a\n")
    raw = info.tobuf(format=tarfile.GNU_FORMAT)
    assert raw[156:157] == tarfile.GNUTYPE_LONGNAME
    path = build(tmp_path / "long.tar.gz", members, raw + padded(data))
    seconds = timed_refusal(tmp_path, path, capsys, "GNU long name of 100,",
                            "over the limit of 8,192")
    assert seconds < 2, f"{seconds:.1f} s"


def test_many_extended_headers_in_a_row_are_refused(tmp_path, capsys, members):
    headers = [extended(b"x", pax_record("comment", "c")) for _ in range(50)]
    path = build(tmp_path / "chain.tar.gz", members, *headers,
                 entry(f"{RUN}/metrics.json", b"{}"))
    refused(tmp_path, path, capsys, "more than 4 extended headers", "in a row")


@pytest.mark.parametrize("size", ["-1000000000000000000", "1e30", "+5", "12 ", ""])
def test_a_pax_size_that_is_not_a_byte_count_is_refused(tmp_path, capsys, members, size):
    info, data = entry(f"{RUN}/metrics.json", b"{}")
    path = build(tmp_path / "size.tar.gz", members, extended(b"x", pax_record("size", size)),
                 (info, data), manifest=manifest_of({**members, info.name: data}))
    refused(tmp_path, path, capsys, "PAX extended header whose size", "is not a byte count")


def test_a_pax_size_in_the_padding_is_seen_too(tmp_path, capsys, members):
    """tarfile reads PAX records up to the end of the header's last block, past its size."""
    data = pax_record("comment", "c")
    padding = pax_record("size", "-1000000000000000000")
    info = tarfile.TarInfo("././@PaxHeader")
    info.type, info.size = tarfile.XHDTYPE, len(data)
    path = build(tmp_path / "padding.tar.gz", members,
                 info.tobuf(format=tarfile.USTAR_FORMAT) + padded(data + padding),
                 entry(f"{RUN}/metrics.json", b"{}"))
    refused(tmp_path, path, capsys, "is not a byte count")


def test_a_pax_header_describing_a_sparse_file_is_refused(tmp_path, capsys, members):
    records = pax_record("GNU.sparse.major", "1") + pax_record("GNU.sparse.minor", "0")
    path = build(tmp_path / "sparse.tar.gz", members, extended(b"x", records),
                 entry(f"{RUN}/latency.csv", b"1\n" * 9))
    refused(tmp_path, path, capsys, "describing a GNU sparse member")


def test_a_malformed_pax_record_is_refused(tmp_path, capsys, members):
    path = build(tmp_path / "bad.tar.gz", members, extended(b"x", b"3 path=memory/a.csv\n"),
                 entry(f"{RUN}/metrics.json", b"{}"))
    refused(tmp_path, path, capsys, "a malformed PAX extended header")


@pytest.mark.parametrize("field", [b"\xff" * 12, b"\xff" + b"\0" * 10 + b"\x01"])
def test_a_negative_size_field_is_refused(tmp_path, capsys, members, field):
    """Base-256 size fields starting with 0xff are negative."""
    info = tarfile.TarInfo(f"{RUN}/metrics.json")
    path = build(tmp_path / "negative.tar.gz", members, with_header_size(info, field),
                 manifest=manifest_of({**members, info.name: b""}))
    refused(tmp_path, path, capsys, f"member {RUN}/metrics.json")


def test_a_newline_in_a_name_keeps_the_message_on_one_line(tmp_path, capsys, members):
    name = "memory/a\nb.csv"
    path = build(tmp_path / "newline.tar.gz", {**members, name: b"a\n"})
    refused(tmp_path, path, capsys, "control character")


def test_a_full_disk_says_so(tmp_path, capsys, members, monkeypatch):
    real_copy = unpacking._copy

    def full(source, destination, size, archive, name, prefix=b""):
        if name != "config.json":
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(b"half")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(destination))
        return real_copy(source, destination, size, archive, name, prefix)

    monkeypatch.setattr(unpacking, "_copy", full)
    path = build(tmp_path / "a.tar.gz", members)
    err = refused(tmp_path, path, capsys, "disk full while unpacking into",
                  str(tmp_path / "results"))
    assert "not a readable" not in err


def test_long_names_and_their_pax_headers_still_unpack(tmp_path, members):
    """The bound leaves room for every name an archive may hold (512 bytes, in a PAX path
    record), and tarfile reads a member after its PAX header as before."""
    long = f"memory/{'a' * 250}/{'b' * 240}.csv"
    assert len(long.encode()) > 490
    files = {**members, long: b"epoch\n1\n"}
    path = build(tmp_path / "long.tar.gz", files)
    results = tmp_path / "results"
    staged = unpacking.stage(path, results, REPO)
    unpacking.unpack(staged, results)
    assert (results / "imported" / long).read_bytes() == b"epoch\n1\n"
    assert not (results / unpacking.STAGING).exists()
