"""What a training-state file is (``checkpoint.safetensors``, ``best.safetensors``), checked
without torch and without unpickling anything.

The file is a safetensors file (https://github.com/huggingface/safetensors): 8 bytes holding the
header's length N (little-endian), N bytes of JSON header, then the tensors' bytes back to back.
The header maps each tensor's name to its dtype, shape and byte range in the data, and holds
under ``__metadata__["rnnrepro"]`` one JSON document with everything that is not a tensor
(``workflow/schemas/training-state.schema.yaml``: format, fingerprint, training state, Python's
and NumPy's random states, the optimizer's hyperparameters, and the index naming which tensor is
which part of the state).

:func:`header_length` and :func:`parse_header` check the layout: N within :data:`HEADER_LIMIT`,
the header a JSON object without duplicate keys, each tensor's dtype in :data:`DTYPES` and its
byte range matching its shape, the ranges covering the data with no gap or overlap, and the
file's size equal to 8 + N + the data. :func:`document` then checks the JSON document against
the schema and that every tensor its index names exists (and no other) with a dtype fit for its
role. Loading a checkpoint (:mod:`rnnrepro.state_file`) and unpacking a part archive
(:mod:`rnnrepro.results.unpacking`, while it streams) both run these checks; every problem is one
:class:`StateFileError` line.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

METADATA_KEY = "rnnrepro"
FORMATS = {"checkpoint": "rnnrepro-checkpoint/1", "best": "rnnrepro-best/1"}
# The longest header accepted. The largest a real run writes is the full increment job's
# checkpoint, whose document holds its history of 51,201 evaluations: about 4 MB.
HEADER_LIMIT = 16 * 2**20
# safetensors dtypes a training state may hold, and their sizes in bytes.
DTYPES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
          "U8": 1, "BOOL": 1}
MAX_DIMS = 16
SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "training-state.schema.yaml"


class StateFileError(ValueError):
    """A file is not a valid training-state file; the message says what is wrong (callers add
    the file's name and what to do)."""


@dataclass(frozen=True)
class Tensor:
    """One tensor's entry in the header."""

    dtype: str
    shape: tuple[int, ...]
    begin: int      # byte offsets in the data (after the header)
    end: int


@dataclass(frozen=True)
class Header:
    """A parsed, checked header."""

    length: int                     # N: bytes of JSON after the 8-byte length
    tensors: dict[str, Tensor]
    metadata: dict[str, str]
    data_bytes: int

    @property
    def file_bytes(self) -> int:
        return 8 + self.length + self.data_bytes


def header_length(prefix: bytes, limit: int = HEADER_LIMIT) -> int:
    """N, from the file's first 8 bytes; refused beyond ``limit``."""
    if len(prefix) < 8:
        raise StateFileError(f"{len(prefix)} bytes, shorter than a safetensors header")
    (length,) = struct.unpack("<Q", prefix[:8])
    if not 2 <= length <= limit:
        raise StateFileError(f"header length {length:,} bytes, outside 2-{limit:,}: not a "
                             "safetensors file, or one too large to be a training state")
    return length


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        twice = next(key for key in keys if keys.count(key) > 1)
        raise StateFileError(f"the header names {twice!r} twice")
    return dict(pairs)


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _tensor(name: str, entry: Any) -> Tensor:
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise StateFileError(f"tensor {name[:100]!r}: its entry is not "
                             "{dtype, shape, data_offsets}")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(dtype, str) or dtype not in DTYPES:  # a list or object: unhashable
        raise StateFileError(f"tensor {name[:100]!r}: dtype {str(dtype)[:20]!r} is not one of "
                             f"{', '.join(DTYPES)}")
    if (not isinstance(shape, list) or len(shape) > MAX_DIMS
            or not all(_int(n) and n >= 0 for n in shape)):
        raise StateFileError(f"tensor {name[:100]!r}: shape {str(shape)[:80]} is not a list of "
                             f"at most {MAX_DIMS} sizes")
    if (not isinstance(offsets, list) or len(offsets) != 2
            or not all(_int(n) for n in offsets) or not 0 <= offsets[0] <= offsets[1]):
        raise StateFileError(f"tensor {name[:100]!r}: data_offsets {str(offsets)[:80]} is not "
                             "[begin, end] with 0 <= begin <= end")
    needed = math.prod(shape) * DTYPES[dtype]
    if offsets[1] - offsets[0] != needed:
        raise StateFileError(f"tensor {name[:100]!r}: shape {shape} of {dtype} takes "
                             f"{needed:,} bytes, its offsets {offsets} give "
                             f"{offsets[1] - offsets[0]:,}")
    return Tensor(dtype, tuple(shape), offsets[0], offsets[1])


def parse_header(raw: bytes, file_bytes: int) -> Header:
    """Check the N header bytes ``raw`` of a file of ``file_bytes`` bytes (see the module
    docstring); return the parsed header."""
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        if isinstance(err, StateFileError):
            raise
        raise StateFileError(f"the header is not JSON ({type(err).__name__})") from err
    if not isinstance(header, dict):
        raise StateFileError("the header is not a JSON object")
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise StateFileError("the header's __metadata__ is not an object of strings")
    tensors = {name: _tensor(name, entry) for name, entry in header.items()}
    position = 0
    for tensor_name, tensor in sorted(tensors.items(), key=lambda item: (item[1].begin,
                                                                          item[1].end)):
        if tensor.begin != position:
            raise StateFileError(
                f"tensor {tensor_name[:100]!r}: its bytes {tensor.begin:,}-{tensor.end:,} "
                f"{'overlap' if tensor.begin < position else 'leave a gap after'} the data "
                f"before them (which ends at {position:,})")
        position = tensor.end
    described = 8 + len(raw) + position
    if file_bytes != described:
        raise StateFileError(f"{file_bytes:,} bytes, but its header describes {described:,} "
                             f"(8 + {len(raw):,} of header + {position:,} of tensors): "
                             "truncated or padded")
    return Header(len(raw), tensors, metadata, position)


def read_header(path: str | Path, limit: int = HEADER_LIMIT) -> Header:
    """The checked header of the file at ``path``."""
    with open(path, "rb") as handle:
        size = Path(path).stat().st_size
        length = header_length(handle.read(8), limit)
        if 8 + length > size:
            raise StateFileError(f"{size:,} bytes, too short for its header of {length:,}")
        return parse_header(handle.read(length), size)


# Which dtypes each part of a state may have: random states are raw bytes.
ROLE_DTYPES = {"model": set(DTYPES), "optimizer": set(DTYPES), "rng": {"U8"}}


def _index(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every (role, tensor name) the document's index lists."""
    tensors = document["tensors"]
    names = [("model", name) for name in tensors["model"].values()]
    if "optimizer" in tensors:
        names += [("optimizer", name) for per_param in tensors["optimizer"].values()
                  for name in per_param.values()]
        rng = tensors["rng"]
        names += [("rng", rng["torch"]), *(("rng", name) for name in rng["cuda"]),
                  *(("rng", name) for name in rng["named"].values())]
    return names


@cache
def _validator(kind: str) -> Any:
    import jsonschema
    import yaml

    schema = yaml.safe_load(SCHEMA.read_text())
    return jsonschema.Draft202012Validator({"$ref": f"#/$defs/{kind}", **schema})


def document(header: Header, kind: str) -> dict[str, Any]:
    """The JSON document of a ``kind`` ("checkpoint" or "best") file, checked against the
    schema and against the tensors the header holds."""
    import jsonschema

    text = header.metadata.get(METADATA_KEY)
    if text is None:
        raise StateFileError(f"its metadata holds no {METADATA_KEY!r} document: not a training "
                             "state written by rnnrepro")
    try:
        found = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise StateFileError(f"its {METADATA_KEY!r} document is not JSON "
                             f"({type(err).__name__})") from err
    if not isinstance(found, dict) or found.get("format") != FORMATS[kind]:
        fmt = found.get("format") if isinstance(found, dict) else None
        raise StateFileError(f"its document's format is {str(fmt)[:40]!r}, not "
                             f"{FORMATS[kind]!r}")
    error = jsonschema.exceptions.best_match(_validator(kind).iter_errors(found))
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "the document"
        raise StateFileError(f"{where[:100]}: {error.message[:200]} "
                             f"({SCHEMA.name} {kind})")
    listed = _index(found)
    names = [name for _, name in listed]
    if len(set(names)) != len(names):
        raise StateFileError("its index names one tensor twice")
    for role, name in listed:
        tensor = header.tensors.get(name)
        if tensor is None:
            raise StateFileError(f"tensor {name[:100]!r}, named by its index, is missing")
        if tensor.dtype not in ROLE_DTYPES[role]:
            raise StateFileError(f"tensor {name[:100]!r} ({role}) has dtype {tensor.dtype}, "
                                 f"expected one of {', '.join(sorted(ROLE_DTYPES[role]))}")
        if role == "rng" and len(tensor.shape) != 1:
            raise StateFileError(f"tensor {name[:100]!r}: a random state must be 1-D bytes")
    extra = sorted(set(header.tensors) - set(names))
    if extra:
        raise StateFileError(f"tensor {extra[0][:100]!r} is not in its index")
    return found
