"""Training states to and from safetensors files (:mod:`rnnrepro.state_format`): the tensors in
the file's data, everything else in its JSON document; written atomically, read without
unpickling.

Tensor names say what they are (``model/<key>``, ``optimizer/<param>/<key>``, ``rng/torch``,
``rng/cuda/<i>``, ``rng/named/<name>``); the document's ``tensors`` index maps the state's
structure to them, so loading never parses a name. :func:`encode_model` ... :func:`restore_rng`
split a model's, an optimizer's and the random states into tensors, index and JSON, and put them
back; :func:`write` and :func:`read` handle the file.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnrepro.state_format import METADATA_KEY, StateFileError, document, read_header

Generators = Mapping[str, "torch.Generator | np.random.Generator"]
Tensors = dict[str, torch.Tensor]


def jsonable(value: Any) -> Any:
    """``value`` with NumPy arrays and scalars as lists and numbers, tuples as lists."""
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot keep a {type(value).__name__} in a training state's JSON")


def write(path: str | Path, tensors: Tensors, doc: Mapping[str, Any]) -> None:
    """Write ``tensors`` and the JSON document ``doc`` to ``path``, atomically.

    The library writes a temporary file beside its target and renames it; its target is
    ``.<name>.partial/<name>``, so that a write cut short by SIGKILL leaves only that folder,
    which the next write removes, instead of a ``.tmpXXXXXX`` of the checkpoint's size."""
    from safetensors.torch import save_file

    owned: Tensors = {}
    storages: set[int] = set()
    for name, tensor in tensors.items():
        tensor = tensor.detach().to("cpu").contiguous()
        storage = tensor.untyped_storage().data_ptr()
        # safetensors refuses tensors sharing memory (tied weights): such a one is copied.
        owned[name] = tensor.clone() if storage in storages and tensor.numel() else tensor
        storages.add(storage)
    metadata = {METADATA_KEY: json.dumps(doc, separators=(",", ":"))}
    path = Path(path)
    staging = path.with_name(f".{path.name}.partial")
    _remove(staging)
    staging.mkdir(parents=True)
    try:
        save_file(owned, str(staging / path.name), metadata=metadata)
        umask = os.umask(0)
        os.umask(umask)
        (staging / path.name).chmod(0o666 & ~umask)  # written 0600; results are ordinary files
        os.replace(staging / path.name, path)
    finally:
        _remove(staging)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def read(path: str | Path, kind: str) -> tuple[dict[str, Any], Tensors]:
    """The checked document and the tensors of a ``kind`` file ("checkpoint" or "best");
    :class:`StateFileError` says what is wrong (the caller names the file)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        doc = document(read_header(path), kind)
        return doc, load_file(str(path), device="cpu")
    except (SafetensorError, OSError) as err:
        raise StateFileError(f"unreadable ({type(err).__name__}: "
                             f"{' '.join(str(err).split())[:200]})") from err


def encode_model(state_dict: Mapping[str, torch.Tensor]) -> tuple[Tensors, dict[str, str]]:
    """A model's state dict as tensors ``model/<key>`` and their index."""
    index = {key: f"model/{key}" for key in state_dict}
    return {index[key]: value for key, value in state_dict.items()}, index


def decode_model(index: Mapping[str, str], tensors: Tensors) -> dict[str, torch.Tensor]:
    return {key: tensors[name] for key, name in index.items()}


def encode_optimizer(state_dict: Mapping[str, Any]
                     ) -> tuple[Tensors, dict[str, dict[str, str]], dict[str, Any]]:
    """An optimizer's state dict as tensors ``optimizer/<param>/<key>`` (moments, Adam's
    ``step``), their index, and the rest as JSON (param_groups, non-tensor state entries)."""
    tensors: Tensors = {}
    index: dict[str, dict[str, str]] = {}
    rest: dict[str, dict[str, Any]] = {}
    for param, entries in state_dict["state"].items():
        index[str(param)], rest[str(param)] = {}, {}
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                name = f"optimizer/{param}/{key}"
                tensors[name] = value
                index[str(param)][key] = name
            else:
                rest[str(param)][key] = jsonable(value)
    return tensors, index, {"param_groups": jsonable(state_dict["param_groups"]), "state": rest}


def decode_optimizer(rest: Mapping[str, Any], index: Mapping[str, Mapping[str, str]],
                     tensors: Tensors) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for param in sorted({*rest["state"], *index}, key=int):
        state[int(param)] = {**rest["state"].get(param, {}),
                             **{key: tensors[name] for key, name in index.get(param, {}).items()}}
    return {"state": state, "param_groups": [dict(group) for group in rest["param_groups"]]}


def encode_rng(generators: Generators) -> tuple[Tensors, dict[str, Any], dict[str, Any]]:
    """Every random state a run depends on: torch's (CPU, CUDA, named torch Generators) as
    uint8 tensors, Python's, NumPy's global and named NumPy Generators' as JSON."""
    tensors: Tensors = {"rng/torch": torch.get_rng_state()}
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
    tensors.update({f"rng/cuda/{i}": state for i, state in enumerate(cuda)})
    index: dict[str, Any] = {"torch": "rng/torch",
                             "cuda": [f"rng/cuda/{i}" for i in range(len(cuda))], "named": {}}
    version, internal, gauss = random.getstate()
    rest: dict[str, Any] = {"python": [version, list(internal), gauss],
                            "numpy": jsonable(np.random.get_state(legacy=False)), "named": {}}
    for name, gen in generators.items():
        if isinstance(gen, torch.Generator):
            tensors[f"rng/named/{name}"] = gen.get_state()
            index["named"][name] = f"rng/named/{name}"
        else:
            rest["named"][name] = jsonable(gen.bit_generator.state)
    return tensors, index, rest


def restore_rng(rest: Mapping[str, Any], index: Mapping[str, Any], tensors: Tensors,
                generators: Generators) -> None:
    """Put back what :func:`encode_rng` captured; a state that does not fit is a
    :class:`StateFileError`."""
    try:
        version, internal, gauss = rest["python"]
        random.setstate((version, tuple(internal), gauss))
        np.random.set_state(rest["numpy"])
        torch.set_rng_state(tensors[index["torch"]])
        if index["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([tensors[name] for name in index["cuda"]])
        for name, gen in generators.items():
            if isinstance(gen, torch.Generator):
                gen.set_state(tensors[index["named"][name]])
            else:
                gen.bit_generator.state = rest["named"][name]
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise StateFileError(f"a random state does not fit ({type(err).__name__}: "
                             f"{' '.join(str(err).split())[:160]})") from err
