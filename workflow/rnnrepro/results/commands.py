"""``rnnrepro results pack|unpack|provenance``: share finished training runs as one archive.

``pack`` is what the targets ``results/archive/<preset>.tar.gz`` (every run finished),
``<preset>.finished.tar.gz`` (the runs finished so far) and ``<preset>.part.tar.gz`` (those, and
the unfinished runs' checkpoints, to continue them elsewhere) run; ``unpack`` is typed by the
user in the repository root; ``provenance`` is the rule writing ``paper/provenance.tex``.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from rnnrepro import __version__
from rnnrepro.command_helpers import UserError, load_config, load_settings
from rnnrepro.paths import CHECKPOINT_FILE, OLD_CHECKPOINT_FILE, RESUME_FILES, results_dir

if TYPE_CHECKING:
    from rnnrepro.results.training import Difference
    from rnnrepro.results.unpacking import StagedArchive

log = logging.getLogger("rnnrepro")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``rnnrepro results`` and its three subcommands."""
    results = sub.add_parser(
        "results", help="pack finished training runs into an archive, or unpack one",
        description=__doc__.splitlines()[0])
    verbs = results.add_subparsers(dest="verb", required=True, metavar="<verb>")
    fmt = argparse.ArgumentDefaultsHelpFormatter
    _add_pack(verbs, fmt)
    _add_unpack(verbs, fmt)
    _add_provenance(verbs, fmt)


def _add_pack(verbs: argparse._SubParsersAction, fmt: type) -> None:
    pack = verbs.add_parser(
        "pack", formatter_class=fmt,
        help="write the archive of a finished run (use the target "
             "results/archive/<preset>.tar.gz, which passes every argument)")
    pack.add_argument("--output", required=True, help="the .tar.gz to write")
    pack.add_argument("--results-dir", default="results", help="folder of the results")
    pack.add_argument("--config", required=True, type=load_settings,
                      help="the run's resolved config (JSON or a file)")
    pack.add_argument("--commit", required=True, help="git commit of the code that ran")
    pack.add_argument("--code", type=load_settings, default=None,
                      help="digest of each stage's trainer code (JSON); default: this code's")
    pack.add_argument("--finished-only", action="store_true",
                      help="pack the runs whose outputs all exist and leave the others out "
                           "(an archive of a run still going on: unpack --add joins the parts)")
    pack.add_argument("--unfinished", action="store_true",
                      help="--finished-only, and also pack each unfinished run's "
                           f"{', '.join(RESUME_FILES)} (a part archive: unpacked elsewhere, "
                           "the runs resume from their checkpoints)")
    pack.add_argument("files", nargs="+", help="every training output to include")
    pack.set_defaults(func=pack_command)


def _add_unpack(verbs: argparse._SubParsersAction, fmt: type) -> None:
    unpack = verbs.add_parser(
        "unpack", formatter_class=fmt,
        help="check an archive and import its runs into results/<preset>/imported/, so that the "
             "paper stage runs without training; a part archive's unfinished runs go to their "
             "run folders, where training resumes them")
    unpack.add_argument("archive", help="a results archive (.tar.gz)")
    unpack.add_argument("--configfile", action="append", default=[], metavar="FILE",
                        help="the config files you will give snakemake (as with snakemake: "
                             "merged over config.yaml in order; repeat the option)")
    unpack.add_argument("--adopt-config", action="store_true",
                        help="import even if the archive's config differs; writes it to "
                             "results/<preset>/imported/config.yaml for `snakemake --configfile`")
    choice = unpack.add_mutually_exclusive_group()
    choice.add_argument("--replace", action="store_true",
                        help="replace runs imported earlier")
    choice.add_argument("--add", action="store_true",
                        help="add this archive's runs to those imported earlier (the configs "
                             "must agree): one preset trained in parts, e.g. on several "
                             "machines or sessions")
    unpack.add_argument("--results-dir", default=None,
                        help="folder of the results (default: results/<preset> of the config "
                             "the --configfile options make)")
    unpack.add_argument("--root", default=".",
                        help="the repository root (holds config.yaml and workflow/)")
    unpack.set_defaults(func=unpack_command)


def _add_provenance(verbs: argparse._SubParsersAction, fmt: type) -> None:
    provenance = verbs.add_parser(
        "provenance", formatter_class=fmt,
        help="paper/provenance.tex: whether the numbers were trained here or imported")
    provenance.add_argument("--results-dir", default="results", help="folder of the results")
    provenance.add_argument("--record", default=None,
                            help="results/<preset>/imported/archive.json, when runs were imported")
    provenance.add_argument("--preset", required=True)
    provenance.add_argument("--commit", required=True)
    provenance.add_argument("--json", required=True,
                            help="results/<preset>/provenance.json to write")
    provenance.add_argument("--tex", required=True, help="paper/provenance.tex to write")
    provenance.add_argument("files", nargs="+", help="the training outputs the paper reads")
    provenance.set_defaults(func=provenance_command)


def pack_command(args: argparse.Namespace) -> int:
    from rnnrepro.results.archive import ArchiveError, pack
    from rnnrepro.results.code import trainer_digests

    missing = [path for path in args.files if not Path(path).exists()]
    resume: list[str] = []
    if missing and (args.finished_only or args.unfinished):
        unfinished = {str(Path(path).parent) for path in missing}
        args.files = [path for path in args.files if str(Path(path).parent) not in unfinished]
        if args.unfinished:
            resume = resume_files(sorted(unfinished))
        log.info("leaving out %d unfinished run(s), e.g. %s%s", len(unfinished),
                 sorted(unfinished)[0], "; packing the checkpoints of those that have one"
                 if args.unfinished else "")
        if not args.files and not resume:
            raise UserError("no finished run to pack yet" + (
                ", and no unfinished run has a checkpoint" if args.unfinished else ""))
    elif missing:
        raise UserError(f"{missing[0]}: not found ({len(missing)} training outputs missing); "
                        "finish the run first, or pack the finished runs with "
                        "results/archive/<preset>.finished.tar.gz")
    try:
        manifest = pack(args.output, args.files, results_dir=args.results_dir,
                        config=args.config, preset=args.config.get("preset", "unknown"),
                        version=__version__, commit=args.commit,
                        code=args.code if args.code is not None else trainer_digests(),
                        resume=resume)
    except ArchiveError as err:
        raise UserError(str(err)) from err
    size = Path(args.output).stat().st_size
    runs = len({Path(path).parent for path in resume})
    log.info("%s: %d files (%d training outputs, %d files of %d unfinished run(s) and the "
             "config), %.1f kB, preset %s, commit %s", args.output, len(manifest["files"]),
             len(args.files), len(resume), runs, size / 1e3, manifest["preset"],
             manifest["commit"])
    return 0


def resume_files(folders: list[str]) -> list[str]:
    """The files each unfinished run resumes from, best weights before the checkpoint (see
    :func:`rnnrepro.results.archive.pack`); a run without a checkpoint is left out."""
    found = []
    for folder in map(Path, folders):
        if not (folder / CHECKPOINT_FILE).exists():
            if (folder / OLD_CHECKPOINT_FILE).exists():
                log.warning("%s: a checkpoint of the old pickle format, which archives do not "
                            "carry; that run is left out", folder / OLD_CHECKPOINT_FILE)
            continue
        found += [str(folder / name) for name in RESUME_FILES if (folder / name).exists()]
    return found


def unpack_command(args: argparse.Namespace) -> int:
    """Unpack holding the results folder's unpack lock: one unpack at a time per folder (a
    second one is refused in one line while the first runs)."""
    from rnnrepro.results.archive import ArchiveError
    from rnnrepro.results.unpacking import locked

    current = load_config(args.root, args.configfile, "current config")
    if args.results_dir is None:
        args.results_dir = str(Path(args.root) / results_dir(current["preset"]))
    try:
        with locked(args.results_dir):
            return _unpack(args, current)
    except ArchiveError as err:
        raise UserError(str(err)) from err


def _refuse_differences(args: argparse.Namespace, staged: StagedArchive,
                        found: list[Difference], current: dict) -> None:
    """Stop, with nothing written, where the archive's config differs from the one given
    (unless ``--adopt-config``, and then unless its preset would fill another's folder)."""
    from rnnrepro.results.unpacking import discard

    preset = staged.manifest["preset"]
    if args.adopt_config and preset != current["preset"] \
            and Path(args.results_dir) == Path(args.root) / results_dir(current["preset"]):
        discard(staged)  # the adopted config names its own preset, whose folder it must fill
        raise UserError(
            f"{args.archive} was made with the {preset} preset: with --adopt-config add "
            f"--results-dir {results_dir(preset)}, the folder its config will use. "
            f"Nothing was written.")
    if not args.adopt_config:
        discard(staged)
        shown = found[:5]
        keys = "\n".join(f"  {key}: {json.dumps(a)} in the archive, {json.dumps(b)} now"
                          for key, a, b in shown)
        if len(found) > len(shown):
            keys += f"\n  ... and {len(found) - len(shown)} more"
        given = " ".join(f"--configfile {f}" for f in args.configfile) or "config.yaml alone"
        raise UserError(
            f"{args.archive} was made with the {preset} preset: pass --configfile "
            f"workflow/presets/{preset}.yaml (you gave {given}), or --adopt-config to import "
            f"it with its own config. Nothing was written. {len(found)} key(s) that change a "
            f"training job differ:\n{keys}")


def _report_code_changes(args: argparse.Namespace, staged: StagedArchive, files: list[str],
                         unfinished: list[str]) -> None:
    """Warn where the imported (or resumed) runs' trainer code differs from this code's."""
    from rnnrepro.results.archive import IMPORT_FOLDER, code_changed
    from rnnrepro.results.code import trainer_digests

    digests = trainer_digests()
    stages = sorted({name.split("/", 1)[0] for name in files})
    for name, reason in code_changed(staged.manifest, digests, stages).items():
        log.warning("%s runs: trained by commit %s; the trainer code has changed since (%s). "
                    "They are used as they are; to train them with this code, remove "
                    "%s/%s", name, staged.manifest["commit"], reason,
                    Path(args.results_dir) / IMPORT_FOLDER, name)
    resumed_stages = sorted({name.split("/", 1)[0] for name in unfinished})
    for name, reason in code_changed(staged.manifest, digests, resumed_stages).items():
        log.warning("unfinished %s runs: checkpointed by commit %s; the trainer code has "
                    "changed since (%s). They continue with this code; to train them from the "
                    "start, delete their %s", name, staged.manifest["commit"], reason,
                    CHECKPOINT_FILE)


def _unpack(args: argparse.Namespace, current: dict) -> int:
    from rnnrepro.results.archive import IMPORT_FOLDER, ArchiveError
    from rnnrepro.results.training import differences
    from rnnrepro.results.unpacking import stage, unpack

    try:
        staged = stage(args.archive, args.results_dir, args.root)
    except ArchiveError as err:
        raise UserError(str(err)) from err
    found = differences(staged.config, current)
    if found:
        _refuse_differences(args, staged, found, current)
    try:
        folder = unpack(staged, args.results_dir, replace=args.replace, add=args.add)
    except ArchiveError as err:
        raise UserError(str(err)) from err
    files = [name for name in staged.finished_files if name != "config.json"]
    runs = {str(Path(name).parent) for name in files}
    if folder is not None:
        log.info("%s: %d training runs (%d files) imported into %s (preset %s, commit %s)",
                 staged.name, len(runs), len(files), folder, staged.manifest["preset"],
                 staged.manifest["commit"])
    unfinished = sorted({str(Path(name).parent) for name in staged.resume})
    if unfinished:
        log.info("%s: %d unfinished run(s) put in their folders to resume, e.g. %s/%s; run "
                 "snakemake as usual to continue them", staged.name, len(unfinished),
                 args.results_dir, unfinished[0])
    _report_code_changes(args, staged, files, unfinished)
    if found:
        config_path = Path(args.results_dir) / IMPORT_FOLDER / "config.yaml"
        config_path.write_text(yaml.safe_dump(staged.config, sort_keys=False))
        log.info("the archive's config differs from yours in %d key(s); it is in %s: run "
                 "snakemake with --configfile %s", len(found), config_path, config_path)
    return 0


def provenance_command(args: argparse.Namespace) -> int:
    from rnnrepro.files import atomic_open, write_json
    from rnnrepro.results.code import trainer_digests
    from rnnrepro.results.provenance import describe, tex

    record = json.loads(Path(args.record).read_text()) if args.record else None
    provenance = describe(args.files, results_dir=args.results_dir, record=record,
                          preset=args.preset, commit=args.commit, version=__version__,
                          code=trainer_digests())
    write_json(args.json, provenance)
    with atomic_open(args.tex) as handle:
        handle.write(tex(provenance))
    log.info("%s", provenance["text"])
    return 0
