"""The results archive (`rnnrepro results pack|unpack`), its config check, imported runs, the
provenance sentence and the code digest of the output cache's key; on small real files."""

from __future__ import annotations

import copy
import gzip
import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest
import yaml

from conftest import QUICK, REPO
from rnnrepro.cli import main
from rnnrepro.config_types import load
from rnnrepro.results import archive, code, imported, provenance, training, unpacking
from rnnrepro.results.code import code_digest, code_modules

RUN = "memory/original/lr3e-05/seed0"


@pytest.fixture(scope="module")
def quick_config() -> dict:
    return load(REPO, [REPO / QUICK])


def make_results(folder: Path, runs: tuple[str, ...] = (RUN,)) -> list[str]:
    """A results folder with the three files of each memory run; returns their paths."""
    paths = []
    for index, run in enumerate(runs):
        for name, text in (("history.csv", f"epoch,loss\n1,{0.5 + index}\n"),
                           ("metrics.json", json.dumps({"test_accuracy": 0.9 + index / 100})),
                           ("latency.csv", "epoch,latency\n1,12.5\n")):
            path = folder / run / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            paths.append(str(path))
    return paths


def pack_quick(tmp_path: Path, config: dict) -> Path:
    results = tmp_path / "source" / "results"
    files = make_results(results)
    output = tmp_path / "quick.tar.gz"
    archive.pack(output, files, results_dir=str(results), config=config, preset="quick",
                 version="0.1.0", commit="abc123")
    return output


def write_tar(path: Path, members: dict[str, bytes], *, manifest: dict | None = None,
              extra: list[tarfile.TarInfo] = ()) -> Path:
    """A hand-made archive: ``members`` listed in a manifest (unless one is given)."""
    if manifest is None:
        manifest = {"format": archive.FORMAT, "preset": "quick", "version": "0.1.0",
                    "commit": "abc", "files": {name: hashlib.sha256(data).hexdigest()
                                               for name, data in members.items()}}
    with gzip.open(path, "wb") as raw, tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in [("manifest.json", json.dumps(manifest).encode()),
                           *members.items()]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra:
            tar.addfile(info)
    return path


def unpack_cli(tmp_path: Path, archive_path: Path, *extra: str) -> int:
    return main(["results", "unpack", str(archive_path), "--root", str(REPO),
                 "--results-dir", str(tmp_path / "results"), "--configfile", str(REPO / QUICK),
                 *extra])


def test_pack_then_unpack_gives_the_same_files_and_the_same_archive_twice(tmp_path, quick_config):
    output = pack_quick(tmp_path, quick_config)
    first = output.read_bytes()
    pack_quick(tmp_path, quick_config)
    assert output.read_bytes() == first, "packing the same results gives the same bytes"

    assert unpack_cli(tmp_path, output) == 0
    folder = tmp_path / "results" / "imported"
    for name in ("history.csv", "metrics.json", "latency.csv"):
        assert (folder / RUN / name).read_bytes() == \
            (tmp_path / "source" / "results" / RUN / name).read_bytes()
    record = json.loads((folder / "archive.json").read_text())
    assert record["archive"] == "quick.tar.gz"
    assert record["archive_sha256"] == hashlib.sha256(first).hexdigest()
    assert record["commit"] == "abc123" and record["preset"] == "quick"
    assert record["config"] == json.loads(json.dumps(quick_config))
    assert not (folder / "config.yaml").exists(), "same config: nothing to adopt"
    # A second import needs --replace.
    assert unpack_cli(tmp_path, output) == 2
    assert unpack_cli(tmp_path, output, "--replace") == 0


def test_pack_reads_imported_runs_under_their_own_names(tmp_path, quick_config):
    results = tmp_path / "results"
    files = make_results(results / "imported")
    manifest = archive.pack(tmp_path / "a.tar.gz", files, results_dir=str(results),
                            config=quick_config, preset="quick", version="0", commit="c")
    assert f"{RUN}/metrics.json" in manifest["files"]


def _refused(tmp_path: Path, path: Path, capsys, *expected: str) -> None:
    assert unpack_cli(tmp_path, path) == 2
    err = capsys.readouterr().err
    for text in expected:
        assert text in err, err
    assert not (tmp_path / "results").exists(), "nothing is written for a refused archive"


def test_a_corrupted_member_is_refused(tmp_path, capsys):
    members = {"config.json": b"{}", f"{RUN}/metrics.json": b'{"test_accuracy": 0.9}'}
    manifest = {"format": archive.FORMAT, "preset": "quick", "version": "0", "commit": "c",
                "files": {name: hashlib.sha256(data).hexdigest()
                          for name, data in members.items()}}
    members[f"{RUN}/metrics.json"] = b'{"test_accuracy": 1.0}'  # changed after packing
    path = write_tar(tmp_path / "bad.tar.gz", members, manifest=manifest)
    _refused(tmp_path, path, capsys, f"member {RUN}/metrics.json: corrupted")


@pytest.mark.parametrize("name", ["../escape.csv", "/etc/evil.json", f"{RUN}/../../x.csv",
                                  "memory//x.csv"])
def test_unsafe_member_paths_are_refused(tmp_path, capsys, name):
    path = write_tar(tmp_path / "bad.tar.gz", {"config.json": b"{}", name: b"a,b\n"})
    _refused(tmp_path, path, capsys, f"member {name}: ")


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE])
def test_link_members_are_refused(tmp_path, capsys, kind):
    link = tarfile.TarInfo(f"{RUN}/metrics.json")
    link.type, link.linkname = kind, "/etc/passwd"
    path = write_tar(tmp_path / "bad.tar.gz", {"config.json": b"{}"}, extra=[link])
    _refused(tmp_path, path, capsys, f"member {RUN}/metrics.json: a ")


@pytest.mark.parametrize(("name", "problem"), [
    (f"{RUN}/checkpoint.pt", "would need unpickling"), (f"{RUN}/best.pkl", "would need unpickling"),
    ("notes.txt", "not a CSV, JSON or safetensors file")])
def test_members_other_than_csv_or_json_are_refused(tmp_path, capsys, name, problem):
    # Listed in the manifest with the right sum: refused for what it is.
    path = write_tar(tmp_path / "bad.tar.gz", {"config.json": b"{}", name: b"\x80\x04K\x01."})
    _refused(tmp_path, path, capsys, f"member {name}: {problem}")


def test_an_unlisted_member_is_refused(tmp_path, capsys):
    members = {"config.json": b"{}"}
    manifest = {"format": archive.FORMAT, "preset": "q", "version": "0", "commit": "c",
                "files": {"config.json": hashlib.sha256(b"{}").hexdigest()}}
    members[f"{RUN}/metrics.json"] = b"{}"
    path = write_tar(tmp_path / "bad.tar.gz", members, manifest=manifest)
    _refused(tmp_path, path, capsys, f"member {RUN}/metrics.json: not listed")


def test_a_config_mismatch_names_every_key_and_writes_nothing(tmp_path, capsys, quick_config):
    other = copy.deepcopy(quick_config)
    other["memory"]["epochs"] = 7
    other["renet"]["training"]["max_epochs"] = 11
    results = tmp_path / "source" / "results"
    path = tmp_path / "other.tar.gz"
    archive.pack(path, make_results(results), results_dir=str(results), config=other,
                 preset="quick", version="0", commit="c")
    expected = [key for key, _, _ in training.differences(other, quick_config)]
    assert expected == ["memory.epochs", "renet.training.max_epochs"]
    _refused(tmp_path, path, capsys, "memory.epochs: 7 in the archive, 2 now",
             "renet.training.max_epochs: 11 in the archive, 4 now", "Nothing was written")

    # Told to adopt it: imported, with the archive's config to run with.
    assert unpack_cli(tmp_path, path, "--adopt-config") == 0
    adopted = yaml.safe_load((tmp_path / "results" / "imported" / "config.yaml").read_text())
    assert adopted["memory"]["epochs"] == 7


def test_training_differences_cover_what_a_job_computes_only(quick_config):
    def changed(**edits):
        config = copy.deepcopy(quick_config)
        for dotted, value in edits.items():
            *parents, leaf = dotted.split("__")
            node = config
            for key in parents:
                node = node[key]
            node[leaf] = value
        return [key for key, _, _ in training.differences(quick_config, config)]

    assert changed(memory__epochs=5) == ["memory.epochs"]
    assert changed(renet__training__max_epochs=9) == ["renet.training.max_epochs"]
    assert changed(increment__holdout_seed=4) == ["increment.holdout_seed"]
    assert changed(data__mnist__splits={"train": 1, "validation": 1, "test": 1}) == [
        "data.mnist.splits.test", "data.mnist.splits.train", "data.mnist.splits.validation"]
    # Which jobs exist, where data comes from and the device change no job's outputs.
    assert changed(memory__seeds=[0, 1], device="cpu", data__local_dir="/x") == []
    files = copy.deepcopy(quick_config["data"]["files"])
    for entry in files["mnist"].values():
        entry["sources"] = ["https://elsewhere.example"]
    assert changed(data__files=files) == []
    entry = next(iter(files["mnist"]))
    files["mnist"][entry]["checksum"] = "sha256:" + "0" * 64
    assert changed(data__files=files) == [f"data.files.mnist.{entry}.checksum"]


def test_imported_runs_are_used_per_stage_while_the_config_agrees(tmp_path, quick_config):
    results = tmp_path / "results"
    path = pack_quick(tmp_path, quick_config)
    unpacking.unpack(unpacking.stage(path, results, REPO), results)
    metrics = f"{results}/{RUN}/metrics.json"
    runs = imported.load(str(results), quick_config)
    assert runs is not None and runs.stages == {"memory", "increment", "renet"}
    assert runs.path(metrics) == f"{results}/imported/{RUN}/metrics.json"
    missing = f"{results}/memory/original/lr3e-05/seed9/metrics.json"
    assert runs.path(missing) == missing, "a run the archive lacks is trained"

    changed = copy.deepcopy(quick_config)
    changed["memory"]["epochs"] = 5
    runs = imported.load(str(results), changed)
    assert runs.stages == {"increment", "renet"}
    assert runs.path(metrics) == metrics
    assert "memory.epochs: 2 in the archive, 5 now" in runs.describe()
    assert imported.load(str(tmp_path / "elsewhere"), quick_config) is None


def test_provenance_counts_imported_and_trained_runs():
    record = {"archive": "cpu.tar.gz", "archive_sha256": "ab" * 32, "preset": "cpu",
              "version": "0.1.0", "commit": "1234567"}
    files = [f"results/imported/memory/r{i}/seed0/{name}" for i in range(3)
             for name in ("history.csv", "metrics.json")]
    files += ["results/renet/mnist/seed0/metrics.json", "results/renet/mnist/seed0/history.csv"]
    both = provenance.describe(files, results_dir="results", record=record, preset="cpu",
                               commit="89abcde", version="0.1.0")
    assert (both["runs"], both["runs_imported"], both["runs_trained"]) == (4, 3, 1)
    assert both["text"].startswith("3 of 4 training runs were imported from archive "
                                   "`cpu.tar.gz`")
    assert "commit `1234567`" in both["text"] and "commit `89abcde`" in both["text"]
    tex = provenance.tex(both)
    assert r"\texttt{cpu.tar.gz}" in tex and r"\newcommand{\rnnprovenance}" in tex

    alone = provenance.describe(files[-2:], results_dir="results", record=None, preset="quick",
                                commit="89abcde", version="0.1.0")
    assert alone["text"].startswith("The only training run was trained by this run")
    assert alone["archive"] is None


def test_the_code_digest_ignores_comments_and_docstrings_only(tmp_path):
    package = tmp_path / "rnnrepro"
    (package / "stage").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "helper.py").write_text('"""Helper."""\nSCALE = 2\n')
    train = package / "stage" / "train.py"
    train.write_text("from rnnrepro.helper import SCALE\n\ndef f(x):\n    return SCALE * x\n")
    (package / "unrelated.py").write_text("X = 1\n")
    assert list(code_modules("rnnrepro.stage.train", package)) == [
        "rnnrepro.helper", "rnnrepro.stage.train"]
    digest = code_digest("rnnrepro.stage.train", package)
    code_digest.cache_clear()

    train.write_text('"""Docs."""\nfrom rnnrepro.helper import SCALE  # why\n\n\ndef f(x):\n'
                     '    """Scaled."""\n    return SCALE * x  # twice\n')
    (package / "unrelated.py").write_text("X = 2\n")
    assert code_digest("rnnrepro.stage.train", package) == digest
    code_digest.cache_clear()

    (package / "helper.py").write_text('"""Helper."""\nSCALE = 3\n')
    assert code_digest("rnnrepro.stage.train", package) != digest
    code_digest.cache_clear()


def test_each_trainer_digest_covers_its_model_code():
    assert "rnnrepro.memory.irnn" in code_modules("rnnrepro.memory.train")
    assert "rnnrepro.renet.paper_gru" in code_modules("rnnrepro.renet.train")
    assert "rnnrepro.increment.keras_units" in code_modules("rnnrepro.increment.train")
    assert "rnnrepro.memory.summary" not in code_modules("rnnrepro.memory.train")


def pack_runs(tmp_path: Path, name: str, runs: tuple[str, ...], config: dict,
              commit: str) -> Path:
    """An archive of the given memory runs (made by a machine of its own)."""
    results = tmp_path / name / "results"
    files = make_results(results, runs)
    output = tmp_path / f"{name}.tar.gz"
    archive.pack(output, files, results_dir=str(results), config=config, preset="quick",
                 version="0.1.0", commit=commit)
    return output


def test_add_combines_the_runs_of_archives_whose_configs_agree(tmp_path, quick_config):
    """One preset trained in two parts: the second archive's runs join the first's, and the
    provenance names both archives."""
    other = "memory/transposed/lr3e-05/seed0"
    first = pack_runs(tmp_path, "part1", (RUN,), quick_config, "aaa111")
    second = pack_runs(tmp_path, "part2", (RUN, other), quick_config, "bbb222")
    assert unpack_cli(tmp_path, first) == 0
    assert unpack_cli(tmp_path, second, "--add") == 0
    folder = tmp_path / "results" / "imported"
    record = json.loads((folder / "archive.json").read_text())
    assert {RUN + "/metrics.json", other + "/metrics.json"} <= set(record["files"])
    assert [s["archive"] for s in record["sources"]] == ["part1.tar.gz", "part2.tar.gz"]
    assert record["commit"] == "aaa111 + bbb222"
    assert (folder / other / "history.csv").exists() and (folder / RUN / "latency.csv").exists()
    runs = imported.load(str(tmp_path / "results"), quick_config)
    assert runs.path(f"{tmp_path}/results/{other}/metrics.json").startswith(str(folder))
    text = provenance.describe([str(folder / RUN / "metrics.json")],
                               results_dir=str(tmp_path / "results"), record=record,
                               preset="quick", commit="ccc", version="0.1.0")["text"]
    assert "archives `part1.tar.gz`" in text and "`part2.tar.gz`" in text
    assert not (tmp_path / "results" / ".imported.partial").exists()


def test_add_refuses_another_config_or_a_run_trained_differently(tmp_path, quick_config,
                                                                 capsys):
    first = pack_runs(tmp_path, "part1", (RUN,), quick_config, "aaa111")
    assert unpack_cli(tmp_path, first) == 0
    before = (tmp_path / "results" / "imported" / "archive.json").read_bytes()
    changed = copy.deepcopy(quick_config)
    changed["memory"]["hidden_size"] = 64
    other_config = pack_runs(tmp_path, "part2", ("memory/transposed/lr3e-05/seed0",),
                             changed, "bbb222")
    # Unpack checks the archive against the current config first: say it is the archive's.
    assert main(["results", "unpack", str(other_config), "--root", str(REPO), "--add",
                 "--results-dir", str(tmp_path / "results"), "--adopt-config"]) == 2
    assert "memory.hidden_size" in capsys.readouterr().err
    # The same run with other contents (another trainer, another machine's numbers).
    results = tmp_path / "part3" / "results"
    files = make_results(results, (RUN,))
    Path(files[0]).write_text("epoch,loss\n1,0.123\n")
    clash = tmp_path / "part3.tar.gz"
    archive.pack(clash, files, results_dir=str(results), config=quick_config, preset="quick",
                 version="0.1.0", commit="ccc333")
    assert unpack_cli(tmp_path, clash, "--add") == 2
    assert "trained the same run differently" in capsys.readouterr().err
    assert (tmp_path / "results" / "imported" / "archive.json").read_bytes() == before


def test_finished_only_packs_the_runs_whose_outputs_all_exist(tmp_path, quick_config, capsys):
    results = tmp_path / "results"
    other = "memory/transposed/lr3e-05/seed0"
    files = make_results(results, (RUN, other))
    Path(files[-1]).unlink()                      # the second run is still training
    config = json.dumps(json.loads(json.dumps(quick_config)))
    args = ["results", "pack", "--output", str(tmp_path / "part.tar.gz"), "--results-dir",
            str(results), "--config", config, "--commit", "abc"]
    assert main([*args, *files]) == 2             # without the option: finish the run first
    assert "finish the run first" in capsys.readouterr().err
    assert main([*args, "--finished-only", *files]) == 0
    packed = unpacking.stage(tmp_path / "part.tar.gz", tmp_path / "check", REPO)
    assert sorted(packed.manifest["files"]) == sorted(
        ["config.json", *(f"{RUN}/{n}" for n in ("history.csv", "latency.csv", "metrics.json"))])
    assert main([*args, "--finished-only", files[-2], files[-1]]) == 2
    assert "no finished run" in capsys.readouterr().err


def test_an_archive_of_other_trainer_code_imports_with_a_notice(tmp_path, quick_config,
                                                                caplog, monkeypatch):
    """Archives record each stage's trainer digest; one trained by other code still imports
    (archives of real runs stay usable after unrelated edits), says so, and the provenance
    names the commit and the changed stage."""
    older = code.trainer_digests()
    # This checkout's trainer code, with one statement of the memory trainer changed.
    package = tmp_path / "package" / "rnnrepro"
    shutil.copytree(Path(code.__file__).parents[1], package)
    train = package / "memory" / "train.py"
    train.write_text(train.read_text() + "\nCHANGED_STATEMENT = 1\n")
    current = code.trainer_digests(package)
    assert current["memory"] != older["memory"] and current["renet"] == older["renet"]
    results = tmp_path / "source" / "results"
    path = tmp_path / "old.tar.gz"
    manifest = archive.pack(path, make_results(results), results_dir=str(results),
                            config=quick_config, preset="quick", version="0.1.0",
                            commit="old1234", code=older)
    assert manifest["code"] == older
    with caplog.at_level("WARNING", logger="rnnrepro"):
        monkeypatch.setattr(code, "trainer_digests", lambda: current)
        assert unpack_cli(tmp_path, path) == 0
    assert "memory runs: trained by commit old1234; the trainer code has changed since " \
           f"(trainer code {older['memory']} then, {current['memory']} now)" in caplog.text
    record = json.loads((tmp_path / "results/imported/archive.json").read_text())
    text = provenance.describe([f"{tmp_path}/results/imported/{RUN}/metrics.json"],
                               results_dir=f"{tmp_path}/results", record=record,
                               preset="quick", commit="new5678", version="0.1.0",
                               code=current)["text"]
    assert "trained by commit `old1234`; the trainer code has changed since (memory)" in text
    same = provenance.describe([f"{tmp_path}/results/imported/{RUN}/metrics.json"],
                               results_dir=f"{tmp_path}/results", record={**record,
                                                                           "code": current},
                               preset="quick", commit="new5678", version="0.1.0",
                               code=current)["text"]
    assert "has changed since" not in same
