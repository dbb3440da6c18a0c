"""The IDX format of the MNIST files: read and write, gzip-compressed or plain.

Layout: two zero bytes, a type code, the number of dimensions, one big-endian uint32 per
dimension, then the data in C order, big-endian.
"""

from __future__ import annotations

import gzip
import io
import struct
import zlib
from pathlib import Path

import numpy as np

from rnnrepro.data.errors import DataError

TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8"),
}


class IdxFormatError(DataError):
    """A file is not a valid IDX file (or not the one expected)."""


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode IDX bytes into an array (native byte order)."""
    if len(data) < 4:
        raise IdxFormatError(f"{name}: {len(data)} bytes, too short for an IDX header")
    zero, code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or code not in TYPES:
        raise IdxFormatError(f"{name}: bad IDX magic number 0x{data[:4].hex()} (expected "
                             "0x0000 then a type code 0x08-0x0E and a dimension count)")
    if ndim == 0 or len(data) < 4 + 4 * ndim:
        raise IdxFormatError(f"{name}: IDX header promises {ndim} dimensions; file too short")
    dims = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    dtype = TYPES[code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    body = memoryview(data)[4 + 4 * ndim:]
    if len(body) != expected:
        raise IdxFormatError(f"{name}: IDX header says shape {dims} ({expected} data bytes) but "
                             f"the file holds {len(body)}; the file is truncated or corrupt")
    return np.frombuffer(body, dtype=dtype).reshape(dims).astype(dtype.newbyteorder("="))


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file; ``.gz`` files are decompressed."""
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                data = fh.read()
        else:
            data = path.read_bytes()
    except (gzip.BadGzipFile, EOFError, zlib.error) as err:
        raise IdxFormatError(f"{path}: not a complete gzip file ({err})") from err
    return parse_idx(data, str(path))


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode an array as IDX bytes."""
    array = np.asarray(array)
    codes = {dtype.str[1:]: code for code, dtype in TYPES.items()}
    code = codes.get(array.dtype.str[1:])
    if code is None or array.ndim == 0:
        raise ValueError(f"cannot write dtype {array.dtype} / ndim {array.ndim} as IDX")
    header = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(f">{array.ndim}I",
                                                                      *array.shape)
    return header + np.ascontiguousarray(array, dtype=TYPES[code]).tobytes()


def gzip_bytes(payload: bytes) -> bytes:
    """Gzip deterministically: level 9, mtime 0, empty file name (byte-identical reruns)."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as gz:
        gz.write(payload)
    return buffer.getvalue()


def check_images(images: np.ndarray, name: str, size: tuple[int, int] = (28, 28)) -> None:
    """Require an (N, H, W) uint8 image array."""
    if images.ndim != 3 or images.shape[1:] != size or images.dtype != np.uint8:
        raise IdxFormatError(f"{name}: expected uint8 images shaped (N, {size[0]}, {size[1]}), "
                             f"found {images.dtype} {images.shape}; is it an images file?")


def check_labels(labels: np.ndarray, name: str, count: int) -> None:
    """Require ``count`` uint8 labels in 0..9."""
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise IdxFormatError(f"{name}: expected a 1-d uint8 label file, found {labels.dtype} "
                             f"{labels.shape}; is it a labels file?")
    if len(labels) != count:
        raise IdxFormatError(f"{name}: {len(labels)} labels for {count} images")
    if labels.size and labels.max() > 9:
        raise IdxFormatError(f"{name}: label {int(labels.max())} outside 0..9")
