"""A stranger's results archive, tried as a hostile or careless one would be: every case ends in
exit 2 with one line naming the member or key, ``results/`` unchanged and no staging folder
left; a member declaring 2 GiB is refused without the memory to hold it; ``--replace`` killed at
any point leaves the complete old or the complete new import."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from conftest import QUICK, REPO, copy_repo, run_snakemake
from rnnrepro.cli import main
from rnnrepro.config_types import load
from rnnrepro.results import archive, unpacking

RUN = "memory/original/lr3e-05/seed0"


@pytest.fixture(scope="module")
def config_bytes() -> bytes:
    return json.dumps(load(REPO, [REPO / QUICK])).encode()


def manifest_of(members: dict[str, bytes], **fields) -> dict:
    return {"format": archive.FORMAT, "preset": "quick", "version": "0", "commit": "c",
            "files": {n: hashlib.sha256(d).hexdigest() for n, d in members.items()}, **fields}


def write(path: Path, entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    """A .tar.gz of raw entries: (header, data); data None writes the header only (a member
    that declares more than the archive holds)."""
    raw = io.BytesIO()
    for info, data in entries:
        raw.write(info.tobuf(format=tarfile.PAX_FORMAT))
        if data is not None:
            raw.write(data + b"\0" * (-len(data) % 512))
    raw.write(b"\0" * 1024)
    path.write_bytes(gzip.compress(raw.getvalue(), mtime=0))
    return path


def entry(name: str, data: bytes = b"", **attributes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in attributes.items():
        setattr(info, key, value)
    return info, data


def good_members(config_bytes: bytes) -> dict[str, bytes]:
    return {"config.json": config_bytes, f"{RUN}/history.csv": b"epoch,loss\n1,0.5\n"}


def archive_of(path: Path, members: dict[str, bytes], manifest: dict | None = None,
               extra: list[tuple[tarfile.TarInfo, bytes | None]] = ()) -> Path:
    manifest = manifest_of(members) if manifest is None else manifest
    return write(path, [entry("manifest.json", json.dumps(manifest).encode()),
                        *(entry(n, d) for n, d in members.items()), *extra])


def refused(tmp_path: Path, path: Path, capsys, *expected: str) -> str:
    results = tmp_path / "results"
    results.mkdir(exist_ok=True)
    (results / "keep.txt").write_text("untouched")
    before = sorted(p.relative_to(results) for p in results.rglob("*"))
    code = main(["results", "unpack", str(path), "--root", str(REPO), "--results-dir",
                 str(results), "--configfile", str(REPO / QUICK)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("rnnrepro results unpack: error: "), err
    for text in expected:
        assert text in err, err
    assert sorted(p.relative_to(results) for p in results.rglob("*")) == before
    assert not (results / unpacking.STAGING).exists()
    return err


# -- 1. bounded ------------------------------------------------------------------------------

def test_a_member_declaring_more_than_the_limit_is_refused_unread(tmp_path, capsys,
                                                                  config_bytes):
    members = good_members(config_bytes)
    big = tarfile.TarInfo(f"{RUN}/metrics.json")
    big.size = 2**30
    manifest = manifest_of({**members, big.name: b""})
    path = archive_of(tmp_path / "big.tar.gz", members, manifest, extra=[(big, None)])
    refused(tmp_path, path, capsys, f"member {RUN}/metrics.json: declares 1,073,741,824 bytes")


def test_a_sparse_member_is_refused(tmp_path, capsys, config_bytes):
    members = good_members(config_bytes)
    sparse = tarfile.TarInfo(f"{RUN}/latency.csv")
    sparse.type = tarfile.GNUTYPE_SPARSE
    manifest = manifest_of({**members, sparse.name: b""})
    path = archive_of(tmp_path / "sparse.tar.gz", members, manifest, extra=[(sparse, b"")])
    refused(tmp_path, path, capsys, "GNU sparse member")


def test_a_padded_manifest_is_refused(tmp_path, capsys):
    info = tarfile.TarInfo("manifest.json")
    info.size = 2**30
    path = write(tmp_path / "padded.tar.gz", [(info, None)])
    refused(tmp_path, path, capsys, "member manifest.json: declares 1,073,741,824 bytes")


def test_more_members_than_the_limit_are_refused(tmp_path, capsys, config_bytes, monkeypatch):
    monkeypatch.setattr(unpacking, "LIMITS", unpacking.Limits(members=4))
    members = {**good_members(config_bytes),
               **{f"memory/r{i}/seed0/history.csv": b"epoch\n1\n" for i in range(5)}}
    path = archive_of(tmp_path / "many.tar.gz", members)
    refused(tmp_path, path, capsys, "more than 4 members")


def test_total_size_is_bounded(tmp_path, capsys, config_bytes, monkeypatch):
    monkeypatch.setattr(unpacking, "LIMITS", unpacking.Limits(total_bytes=len(config_bytes) + 20))
    members = {**good_members(config_bytes), f"{RUN}/metrics.json": b"{}" * 20}
    path = archive_of(tmp_path / "total.tar.gz", members)
    refused(tmp_path, path, capsys, "the members add up to over")


def test_peak_memory_stays_small_for_a_member_declaring_2_gib(tmp_path, config_bytes):
    members = good_members(config_bytes)
    big = tarfile.TarInfo(f"{RUN}/metrics.json")
    big.size = 2 * 2**30
    path = archive_of(tmp_path / "big.tar.gz", members,
                      manifest_of({**members, big.name: b""}), extra=[(big, None)])
    # A wrapper whose only child is the unpack: its children's peak RSS is the unpack's.
    wrapper = ("import resource, subprocess, sys; "
               "done = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
               "sys.stderr.write(done.stderr); "
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
               "sys.exit(done.returncode)")
    done = subprocess.run([sys.executable, "-c", wrapper, sys.executable, "-m", "rnnrepro",
                           "results", "unpack", str(path), "--root", str(REPO),
                           "--results-dir", str(tmp_path / "results"),
                           "--configfile", str(REPO / QUICK)], capture_output=True, text=True)
    assert done.returncode == 2 and "declares 2,147,483,648 bytes" in done.stderr
    peak_mb = int(done.stdout.split()[-1]) / 1024
    assert peak_mb < 200, f"peak RSS {peak_mb:.0f} MB"


# -- 2. one message, never a traceback -------------------------------------------------------

def test_a_flipped_bit_in_the_stream_is_refused(tmp_path, capsys, config_bytes):
    path = archive_of(tmp_path / "a.tar.gz", good_members(config_bytes))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))
    refused(tmp_path, path, capsys)     # unreadable, or a checksum: one line either way


def test_a_deeply_nested_manifest_is_refused(tmp_path, capsys):
    nested = b"[" * 200_000 + b"]" * 200_000
    path = write(tmp_path / "deep.tar.gz", [entry("manifest.json", nested)])
    refused(tmp_path, path, capsys, "member manifest.json: not valid JSON")


@pytest.mark.parametrize("config", [b"[1, 2]", b'"text"', b"{}", b"null"])
def test_a_config_of_the_wrong_shape_is_refused(tmp_path, capsys, config):
    members = {"config.json": config}
    path = archive_of(tmp_path / "c.tar.gz", members)
    refused(tmp_path, path, capsys, "member config.json:")


def test_a_config_lacking_a_stage_is_refused_naming_it(tmp_path, capsys, config_bytes):
    config = json.loads(config_bytes)
    del config["renet"]
    path = archive_of(tmp_path / "c.tar.gz", {"config.json": json.dumps(config).encode()})
    refused(tmp_path, path, capsys, "member config.json", "renet")


def test_a_name_with_a_nul_is_refused(tmp_path, capsys, config_bytes):
    info, data = entry("x.csv", b"a\n")
    info.pax_headers = {"path": "memory/a\x00b.csv"}
    path = archive_of(tmp_path / "nul.tar.gz", good_members(config_bytes),
                      extra=[(info, data)])
    refused(tmp_path, path, capsys, "NUL")


def test_a_name_the_file_system_cannot_hold_is_refused(tmp_path, capsys, config_bytes):
    long = f"memory/{'x' * 300}.csv"
    members = {**good_members(config_bytes), long: b"a\n"}
    path = archive_of(tmp_path / "long.tar.gz", members)
    refused(tmp_path, path, capsys, "longer than the file system holds")


def test_a_file_that_is_also_a_folder_is_refused(tmp_path, capsys, config_bytes):
    members = {**good_members(config_bytes), "memory/a.json": b"{}",
               "memory/a.json/b.csv": b"a\n"}
    path = archive_of(tmp_path / "clash.tar.gz", members)
    refused(tmp_path, path, capsys, "member memory/a.json/b.csv: appears twice, or is both")


# -- 3. manifest fields ----------------------------------------------------------------------

@pytest.mark.parametrize("field", ["preset", "version", "commit"])
def test_a_manifest_without_a_required_field_is_refused(tmp_path, capsys, config_bytes, field):
    members = good_members(config_bytes)
    manifest = manifest_of(members)
    del manifest[field]
    path = archive_of(tmp_path / "m.tar.gz", members, manifest)
    refused(tmp_path, path, capsys, "member manifest.json", field)


def test_the_staging_folder_is_made_fresh_and_never_followed(tmp_path, config_bytes):
    """A symlink where the staging folder goes is removed, not written through."""
    results, outside = tmp_path / "results", tmp_path / "outside"
    results.mkdir()
    outside.mkdir()
    (results / unpacking.STAGING).symlink_to(outside)
    path = archive_of(tmp_path / "a.tar.gz", good_members(config_bytes))
    staged = unpacking.stage(path, results, REPO)
    assert not staged.folder.is_symlink() and not any(outside.iterdir())
    unpacking.unpack(staged, results)
    assert (results / "imported" / RUN / "history.csv").exists()


# -- 4. --replace is atomic ------------------------------------------------------------------

class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs."""


def complete_import(results: Path) -> str:
    """The commit of the import found (after the recovery every reader runs), checking that
    every file its record lists is there with the right sha256."""
    unpacking.recover(results)
    record = archive.read_record(results)
    for name, digest in record["files"].items():
        if name != "config.json":
            data = (results / "imported" / name).read_bytes()
            assert hashlib.sha256(data).hexdigest() == digest, name
    return record["commit"]


@pytest.mark.parametrize("step", ["before", "aside", "in", "after"])
def test_replace_killed_at_any_point_leaves_a_complete_import(tmp_path, config_bytes,
                                                              monkeypatch, step):
    results = tmp_path / "results"
    old = {**good_members(config_bytes), f"{RUN}/metrics.json": b'{"old": 1}'}
    new = {**good_members(config_bytes), f"{RUN}/metrics.json": b'{"new": 2}',
           "memory/transposed/lr3e-05/seed0/history.csv": b"epoch\n1\n"}
    unpacking.unpack(unpacking.stage(archive_of(tmp_path / "old.tar.gz", old,
                                                manifest_of(old, commit="old")), results, REPO),
                     results)
    staged = unpacking.stage(archive_of(tmp_path / "new.tar.gz", new,
                                        manifest_of(new, commit="new")), results, REPO)
    calls = {"replace": 0}
    real_replace, real_remove = unpacking.os.replace, unpacking.remove

    def replace(source, target):
        calls["replace"] += 1
        if step == "aside" and calls["replace"] == 1:
            raise Killed
        real_replace(source, target)
        if step == "in" and calls["replace"] == 2:
            raise Killed

    def remove(path):
        if step == "before" and path.name == unpacking.ASIDE and calls["replace"] == 0:
            raise Killed
        real_remove(path)

    monkeypatch.setattr(unpacking.os, "replace", replace)
    monkeypatch.setattr(unpacking, "remove", remove)
    with contextlib.suppress(Killed):
        unpacking.unpack(staged, results, replace=True)
    monkeypatch.undo()
    expected = {"before": "old", "aside": "old", "in": "new", "after": "new"}[step]
    assert complete_import(results) == expected


@pytest.mark.slow  # the full quick-run fixture: minutes
def test_after_a_killed_replace_snakemake_plans_no_training(quick_run, tmp_path, monkeypatch):
    """The quick run's archive imported, replaced by itself and killed between the renames:
    the next dry run restores the import and plans no training job."""
    run_snakemake(quick_run, "results/archive/quick.tar.gz", "--cores", "1", "--rerun-triggers",
                  "mtime", "--configfile", QUICK)
    workdir = copy_repo(tmp_path / "repo")
    shutil.copytree(quick_run / "results/quick/data", workdir / "results/quick/data")
    path = quick_run / "results/archive/quick.tar.gz"
    results = workdir / "results/quick"
    unpacking.unpack(unpacking.stage(path, results, REPO), results)
    staged = unpacking.stage(path, results, REPO)
    real_replace = unpacking.os.replace

    def replace(source, target):
        real_replace(source, target)
        raise Killed                      # after moving the old import aside

    monkeypatch.setattr(unpacking.os, "replace", replace)
    with pytest.raises(Killed):
        unpacking.unpack(staged, results, replace=True)
    monkeypatch.undo()
    assert not (results / "imported").exists()
    proc = run_snakemake(workdir, "-n", "--configfile", QUICK)
    planned = re.findall(r"^(?:local)?rule (\w+):", proc.stdout, re.M)
    assert planned and not [rule for rule in planned if rule.endswith("_train")]
    assert (results / "imported" / "archive.json").exists()


# -- manifest text that reaches the terminal and main.pdf ------------------------------------

@pytest.mark.parametrize(("field", "value"), [
    ("version", "1.0$"), ("version", "v" * 200), ("commit", "abc\x1b[31m"),
    ("commit", "ab\x00cd"), ("preset", "quick\u202e"), ("preset", "\U0001f642"),
    ("preset", "../quick"),
])
def test_manifest_text_outside_plain_characters_is_refused(tmp_path, capsys, config_bytes,
                                                           field, value):
    members = good_members(config_bytes)
    path = archive_of(tmp_path / "a.tar.gz", members, manifest_of(members, **{field: value}))
    err = refused(tmp_path, path, capsys, "manifest.json", field)
    assert "\x1b" not in err and "\x00" not in err and "\u202e" not in err


def test_a_manifest_and_config_naming_different_presets_are_refused(tmp_path, capsys,
                                                                     config_bytes):
    """Quick runs labelled paper-rows would be printed as paper-rows in main.pdf."""
    members = good_members(config_bytes)
    path = archive_of(tmp_path / "a.tar.gz", members, manifest_of(members, preset="paper-rows"))
    refused(tmp_path, path, capsys, "config.json", "preset 'quick', but manifest.json says "
            "'paper-rows'")
