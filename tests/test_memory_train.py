"""Training jobs of the memory experiment: outputs, resume, errors, summary, figures, Snakemake."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from rnnrepro.cli import main
from rnnrepro.data.permutations import load_permutations, write_permutations
from rnnrepro.data.processed import (
    ProcessedDataset,
    save_array,
    write_manifest,
    write_normalization,
)
from rnnrepro.execution import StopRequested
from rnnrepro.memory.representations import pixel_order
from rnnrepro.memory.runs import run_folder
from rnnrepro.memory.train import load_split

REPO = Path(__file__).resolve().parents[1]
SIZES = {"train": 48, "validation": 16, "test": 16}
TINY = {"epochs": 3, "eval_batch_size": 7, "hidden_size": 128, "batch_size": 16,
        "input_weight_std": 0.001, "rmsprop": {"rho": 0.9, "eps": 1e-7}, "train_subset": None}


def make_dataset(root: Path) -> Path:
    """A tiny processed MNIST-like dataset whose label is drawn as a bright bar."""
    rng = np.random.default_rng(0)
    for split, size in SIZES.items():
        labels = rng.integers(0, 10, size)
        images = (rng.random((size, 1, 28, 28)) * 120).astype(np.uint8)
        for i, label in enumerate(labels):
            images[i, 0, 2 * label:2 * label + 3, 4:24] = 255
        save_array(root / f"{split}_images.npy", images)
        save_array(root / f"{split}_labels.npy", labels.astype(np.int64))
    write_normalization(root, np.zeros((1, 28, 28)), np.full((1, 28, 28), 255.0))
    write_manifest(root, "mnist")
    return root / "manifest.json"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder laid out like the pipeline's results/data (MNIST + permutations)."""
    root = tmp_path_factory.mktemp("memory")
    make_dataset(root / "results/data/mnist")
    write_permutations(root / "results/data/permutations.json", seed=5, count=3)
    return root


def train_args(workspace: Path, out: Path, representation: str, settings: dict) -> list[str]:
    return ["memory-train", "--data", str(workspace / "results/data/mnist/manifest.json"),
            "--permutations", str(workspace / "results/data/permutations.json"),
            "--representation", representation, "--learning-rate", "1e-3", "--seed", "3",
            "--settings", json.dumps(settings), "--device", "cpu", "--threads", "1",
            "--history", str(out / "history.csv"), "--metrics", str(out / "metrics.json"),
            "--latency", str(out / "latency.csv")]


def test_splits_use_the_same_saved_permutation(workspace):
    data = ProcessedDataset(workspace / "results/data/mnist")
    perms = load_permutations(workspace / "results/data/permutations.json")
    order = pixel_order("original-perm1", perms)
    for split in ("train", "validation", "test"):
        x, y = load_split(data, split, order, chunk=5)
        images = data.images(split)[:, 0].astype(np.float32) / 255
        np.testing.assert_array_equal(x.numpy(), images[:, perms["rows"][1], :])
        np.testing.assert_array_equal(y.numpy(), data.labels(split))
    x, _ = load_split(data, "train", order, limit=20)
    assert x.shape == (20, 28, 28)


def test_train_command_writes_history_metrics_and_latency(workspace, tmp_path):
    out = tmp_path / "flattened-perm0"
    settings = {**TINY, "epochs": 2}
    assert main(train_args(workspace, out, "flattened-perm0", settings)) == 0
    history = pd.read_csv(out / "history.csv")
    assert list(history.columns) == ["epoch", "loss", "acc", "val_loss", "val_acc", "test_loss",
                                     "test_acc", "wall_time"]
    assert history["epoch"].tolist() == [1, 2]
    assert history[["acc", "val_acc", "test_acc"]].apply(lambda c: c.between(0, 1)).all().all()
    metrics = json.loads((out / "metrics.json").read_text())
    best = history.loc[history["val_acc"].idxmax()]
    assert metrics["variant"] == "flattened random permute 0@16@128@0.001"
    assert metrics["group"] == "flattened random permute"
    assert (metrics["steps"], metrics["features"]) == (784, 1)
    assert metrics["best"]["epoch"] == best["epoch"]
    assert metrics["best"]["val_acc"] == pytest.approx(best["val_acc"])
    assert metrics["best"]["test_acc"] == pytest.approx(best["test_acc"])
    assert metrics["parameters"] == 128 + 128 * 128 + 128 + 1290
    latency = pd.read_csv(out / "latency.csv")
    assert latency["latency"].tolist() == list(range(1, 785))
    assert latency["count"].sum() == SIZES["test"]
    mean = (latency["latency"] * latency["count"]).sum() / SIZES["test"]
    assert metrics["latency_mean"] == pytest.approx(mean)
    assert not (out / "checkpoint.safetensors").exists() and (out / "best.safetensors").exists()
    assert not list(out.glob("*.partial*"))


def test_resume_after_interruption_gives_the_same_run(workspace, tmp_path, monkeypatch):
    full, resumed = tmp_path / "full", tmp_path / "resumed"
    assert main(train_args(workspace, full, "transposed-perm1", TINY)) == 0

    @contextlib.contextmanager
    def stop_after(checks: int):
        calls = [0]

        def check() -> None:
            calls[0] += 1
            if calls[0] > checks:
                raise StopRequested("test interruption")

        yield check

    with monkeypatch.context() as patch:  # 3 batches per epoch: stop inside epoch 2
        patch.setattr("rnnrepro.training_loop.stop_on_signal", lambda: stop_after(4))
        assert main(train_args(workspace, resumed, "transposed-perm1", TINY)) == 75
    assert (resumed / "checkpoint.safetensors").exists() and not (resumed / "history.csv").exists()
    assert len(pd.read_csv(resumed / "history.partial.csv")) == 1
    assert main(train_args(workspace, resumed, "transposed-perm1", TINY)) == 0

    a = pd.read_csv(full / "history.csv").drop(columns="wall_time")
    b = pd.read_csv(resumed / "history.csv").drop(columns="wall_time")
    assert len(a) == 3
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    ma, mb = (json.loads((d / "metrics.json").read_text()) for d in (full, resumed))
    for key in ("best", "latency_mean", "fingerprint", "variant"):
        assert ma[key] == mb[key]
    assert (full / "latency.csv").read_text() == (resumed / "latency.csv").read_text()
    assert a["loss"].iloc[-1] < a["loss"].iloc[0]  # it learns the bars


@pytest.mark.parametrize(("change", "message"), [
    ({"representation": "diagonal"}, "unknown representation"),
    ({"settings": {**TINY, "epochs": 1, "dropout": 0.5}}, "unknown key(s) ['dropout']"),
    ({"settings": {k: v for k, v in TINY.items() if "batch" not in k}},
     "missing key(s) ['batch_size', 'eval_batch_size']"),
    ({"settings": {**TINY, "epochs": 0}}, "memory.epochs = 0: 0 is less than the minimum of 1"),
    ({"data": "nowhere/manifest.json"}, "manifest.json missing"),
])
def test_bad_input_is_a_clear_error(workspace, tmp_path, capsys, change, message):
    args = train_args(workspace, tmp_path, change.get("representation", "original"),
                      change.get("settings", {**TINY, "epochs": 1}))
    if "data" in change:
        args[args.index("--data") + 1] = str(tmp_path / change["data"])
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "metrics.json").exists()


def write_fake_run(root: Path, representation: str, group: str, lr: float, vaccs: list[float],
                   seed: int = 0) -> Path:
    """metrics.json + history.csv of a finished run with the given validation accuracies."""
    folder = root / run_folder(representation, lr, seed)
    folder.mkdir(parents=True)
    history = pd.DataFrame({"epoch": range(1, len(vaccs) + 1), "loss": 1.0, "acc": 0.5,
                            "val_loss": [1 - v for v in vaccs], "val_acc": vaccs,
                            "test_loss": 1.0, "test_acc": 0.4, "wall_time": 1.0})
    history.to_csv(folder / "history.csv", index=False)
    best = history.loc[history["val_acc"].idxmax()]
    metrics = {"variant": f"{representation}@16@128@{lr:g}", "representation": representation,
               "group": group, "learning_rate": lr, "seed": seed, "steps": 28,
               "latency_mean": 10 + lr + seed,
               "sizes": {"train": 1000, "validation": 200, "test": 200},
               "best": {"epoch": int(best["epoch"]), "acc": 0.5, "val_acc": float(best["val_acc"]),
                        "loss": 1.0, "val_loss": float(best["val_loss"]), "test_acc": 0.4,
                        "test_loss": 1.0}}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    return folder / "metrics.json"


def test_summary_tables_and_figures(workspace, tmp_path):
    runs = [write_fake_run(tmp_path, "original", "original", 3e-5, [0.5, 0.7, 0.6]),
            write_fake_run(tmp_path, "original", "original", 1e-6, [0.4, 0.8]),
            write_fake_run(tmp_path, "original-perm0", "original random permute", 3e-5,
                           [0.3, 0.2]),
            write_fake_run(tmp_path, "original-perm1", "original random permute", 3e-5,
                           [0.1, 0.65])]
    files = run_summary(runs, tmp_path / "summary")
    t3 = pd.read_csv(files["table3"])
    assert t3["val_acc"].tolist() == [0.8, 0.7, 0.65, 0.3]
    assert t3["epoch"].tolist() == [2, 2, 2, 1]
    t4 = pd.read_csv(files["table4"])
    assert t4["variant"].tolist() == ["original@16@128@1e-06", "original-perm1@16@128@3e-05"]
    t2 = pd.read_csv(files["table2"])
    assert list(t2.columns[:5]) == ["variant", "representation", "group", "learning_rate", "seed"]
    assert len(t2) == 4
    curves = pd.read_csv(files["curves"])
    assert curves.groupby("group")["epoch"].max().to_dict() == {"original": 2,
                                                                 "original random permute": 2}
    epochs = pd.read_csv(files["epochs"])  # every run's every epoch, for the claims
    curves_of = {(rep, lr): list(rows["val_acc"])
                 for (rep, lr), rows in epochs.groupby(["representation", "learning_rate"])}
    assert curves_of == {("original", 1e-6): [0.4, 0.8], ("original", 3e-5): [0.5, 0.7, 0.6],
                         ("original-perm0", 3e-5): [0.3, 0.2],
                         ("original-perm1", 3e-5): [0.1, 0.65]}
    notes = json.loads(files["notes"].read_text())
    assert "test set" in notes["validation"] and notes["settings"] == {"preset": "test"}

    figures = tmp_path / "figures"
    data = str(workspace / "results/data/mnist/manifest.json")
    perms = str(workspace / "results/data/permutations.json")
    assert main(["memory-figure-curves", "--curves", str(files["curves"]),
                 "--output", str(figures / "curves.pdf"), "--png", str(figures / "c.png")]) == 0
    assert main(["memory-figure-gallery", "--data", data, "--permutations", perms,
                 "--settings", '{"representations": ["original", "transposed-perm2", '
                 '"flattened", "flattened-perm1"], "gallery_index": 3}',
                 "--output", str(figures / "gallery.pdf"), "--png", str(figures / "g.png")]) == 0
    assert main(["memory-figure-samples", "--data", data, "--settings", '{"sample_digits": 12}',
                 "--output", str(figures / "samples.pdf"), "--png", str(figures / "s.png")]) == 0
    for name in ("curves", "gallery", "samples"):
        assert (figures / f"{name}.pdf").read_bytes()[:4] == b"%PDF"
        assert (figures / f"{name[0]}.png").stat().st_size > 1000
    # The PNG goes where --png says, nowhere else.
    assert sorted(p.name for p in figures.iterdir()) == [
        "c.png", "curves.pdf", "g.png", "gallery.pdf", "s.png", "samples.pdf"]
    assert main(["memory-figure-samples", "--data", data, "--settings", "{}",
                 "--output", str(figures / "x.pdf"), "--png", str(figures / "x.png")]) == 2


def test_summary_rejects_incomplete_runs(tmp_path, capsys):
    path = tmp_path / "run" / "metrics.json"
    path.parent.mkdir()
    path.write_text('{"variant": "x"}')
    history = path.parent / "history.csv"
    assert main(["memory-summary", "--metrics", str(path), "--histories", str(history),
                 "--table2", "a", "--table3", "b", "--variants", "v", "--groups", "g",
                 "--table4", "c", "--curves", "d", "--epochs", "f", "--notes", "e"]) == 2
    assert "missing key" in capsys.readouterr().err


SUMMARY_FILES = ["table2", "table3", "variants", "groups", "table4", "curves", "epochs", "notes"]


def run_summary(metrics: list[Path], out: Path) -> dict[str, Path]:
    """`rnnrepro memory-summary` over the given runs (histories beside them); its files."""
    files = {n: out / f"{n}.{'json' if n == 'notes' else 'csv'}" for n in SUMMARY_FILES}
    args = ["memory-summary", "--metrics", *map(str, metrics),
            "--histories", *[str(p.parent / "history.csv") for p in metrics]]
    for name, path in files.items():
        args += [f"--{name}", str(path)]
    assert main([*args, "--settings", '{"preset": "test"}']) == 0
    return files


def test_summary_and_figures_of_a_preset_without_the_stage(tmp_path, monkeypatch):
    """memory.representations: [] (the renet-mnist preset): the rules pass no runs and no data;
    the summary files hold their columns only and every figure says it was not run."""
    from rnnrepro import plotting
    from rnnrepro.memory import figures

    files = run_summary([], tmp_path / "summary")
    for name in SUMMARY_FILES[:-1]:
        frame = pd.read_csv(files[name])
        assert frame.empty and len(frame.columns) > 1, name
    notes = json.loads(files["notes"].read_text())
    assert notes["runs"] == 0 and notes["epochs"] == []

    said, draw = [], plotting.save_not_run

    def not_run(pdf: Path, png: Path, title: str, reason: str) -> None:
        said.append(reason)
        draw(pdf, png, title, reason)

    monkeypatch.setattr(plotting, "save_not_run", not_run)
    monkeypatch.setattr(figures, "save_not_run", not_run)
    pdfs = tmp_path / "figures"
    for command, args in (
            ("memory-figure-curves", ["--curves", str(files["curves"])]),
            ("memory-figure-gallery", ["--data", "--permutations", "--settings",
                                       '{"representations": [], "gallery_index": 0}']),
            ("memory-figure-samples", ["--data", "--settings", '{"sample_digits": 20}'])):
        pdf = pdfs / f"{command}.pdf"
        assert main([command, *args, "--output", str(pdf),
                     "--png", str(pdf.with_suffix(".png"))]) == 0
        assert pdf.read_bytes()[:4] == b"%PDF"
    assert said == [figures.NOT_RUN] * 3


@pytest.mark.slow
def test_snakemake_runs_the_memory_rules_end_to_end(workspace, tmp_path):
    """A tiny config through the real rule file: two training jobs, summary and figures."""
    work = tmp_path / "wf"
    (work / "results/tiny/data").mkdir(parents=True)
    for name in ("mnist", "permutations.json"):
        src = workspace / "results/data" / name
        os.symlink(src, work / "results/tiny/data" / name)
    # config.yaml with a tiny memory section (common.smk reads every stage's section).
    config = {
        **yaml.safe_load((REPO / "config.yaml").read_text()),
        "preset": "tiny", "device": "cpu",
        "memory": {"representations": ["transposed", "flattened-perm2"],
                   "learning_rates": [1e-3], "seeds": [0], "epochs": 1, "hidden_size": 128,
                   "batch_size": 16, "input_weight_std": 0.001,
                   "rmsprop": {"rho": 0.9, "eps": 1e-7}, "train_subset": 32,
                   "eval_batch_size": 16, "pixel_runs": {},
                   "figures": {"gallery_index": 1, "sample_digits": 10}},
    }
    (work / "config.yaml").write_text(json.dumps(config))
    (work / "Snakefile").write_text(textwrap.dedent(f"""\
        configfile: "config.yaml"
        include: "{REPO}/workflow/rules/common.smk"
        include: "{REPO}/workflow/rules/memory.smk"
        rule all:
            input: memory_targets()
        """))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "--nolock"],
                          cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    for rep in ("transposed", "flattened-perm2"):
        run = work / f"results/tiny/memory/{rep}/lr0.001/seed0"
        assert len(pd.read_csv(run / "history.csv")) == 1
        assert json.loads((run / "metrics.json").read_text())["best"]["epoch"] == 1
        assert (run / "latency.csv").exists() and not (run / "checkpoint.safetensors").exists()
    t3 = pd.read_csv(work / "results/tiny/memory/summary/table3_runs.csv")
    assert sorted(t3["variant"]) == ["flattened random permute 2@16@128@0.001",
                                     "transposed@16@128@0.001"]
    for fig in ("memory-curves", "memory-representations", "memory-samples"):
        assert (work / f"paper/figures/{fig}.pdf").exists()
        assert (work / f"paper/figures/{fig}.png").exists()


def test_an_archived_runs_metrics_read_with_the_current_names():
    """metrics.json of runs trained before the history's names were used throughout (the
    shipped archives: best.vacc, best.vloss) reads as val_acc and val_loss; current ones and
    other stages' files pass unchanged."""
    from rnnrepro.memory.runs import current_metrics

    old = {"steps": 28, "best": {"epoch": 3, "acc": 0.9, "vacc": 0.8, "loss": 0.3,
                                 "vloss": 0.4, "test_acc": 0.7, "test_loss": 0.5}}
    assert current_metrics(old) == {"steps": 28, "best": {
        "epoch": 3, "acc": 0.9, "val_acc": 0.8, "loss": 0.3, "val_loss": 0.4, "test_acc": 0.7,
        "test_loss": 0.5}}
    assert old["best"]["vacc"] == 0.8                        # the file's dict is not changed
    current = current_metrics(old)
    assert current_metrics(current) == current
    assert current_metrics({"best_epoch": 2}) == {"best_epoch": 2}
