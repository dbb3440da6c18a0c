"""Write a large ``.npy`` file in pieces: header first, then rows by plain file writes.

Rows can be appended in order or written at any row position, so a dataset far larger than
memory is produced without a memory map of the whole array (a dirty memmap of gigabytes counts
fully against the process's resident memory). The file is created under a temporary name and
renamed into place only when as many rows as the array holds have been written.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType

import numpy as np

from rnnrepro.files import atomic_path


class NpyWriter:
    """Context manager writing an array of ``shape`` and ``dtype`` to ``path`` row by row."""

    def __init__(self, path: str | Path, shape: tuple[int, ...], dtype: np.dtype | str):
        self.path = Path(path)
        self.shape = tuple(int(n) for n in shape)
        self.dtype = np.dtype(dtype)
        self.row_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize
        self._stack = ExitStack()
        self._fd = -1
        self._header = 0
        self._next = 0
        self._written = 0

    def __enter__(self) -> NpyWriter:
        tmp = self._stack.enter_context(atomic_path(self.path, suffix=".npy"))
        with open(tmp, "wb") as fh:
            header = {"descr": np.lib.format.dtype_to_descr(self.dtype),
                      "fortran_order": False, "shape": self.shape}
            np.lib.format.write_array_header_1_0(fh, header)
            self._header = fh.tell()
            fh.truncate(self._header + self.shape[0] * self.row_bytes)
        self._fd = os.open(tmp, os.O_WRONLY)
        self._stack.callback(os.close, self._fd)
        return self

    def append(self, rows: np.ndarray) -> None:
        """Write ``rows`` after the rows appended so far."""
        self.write_at(self._next, rows)
        self._next += len(rows)

    def write_at(self, index: int, rows: np.ndarray) -> None:
        """Write ``rows`` starting at row ``index``."""
        rows = np.ascontiguousarray(rows, dtype=self.dtype)
        if rows.shape[1:] != self.shape[1:] or not 0 <= index <= self.shape[0] - len(rows):
            raise ValueError(f"{self.path}: rows {rows.shape} at {index} do not fit "
                             f"{self.shape}")
        data = memoryview(rows).cast("B")
        offset = self._header + index * self.row_bytes
        while data:
            done = os.pwrite(self._fd, data, offset)
            data, offset = data[done:], offset + done
        self._written += len(rows)

    def scatter(self, positions: np.ndarray, rows: np.ndarray) -> None:
        """Write ``rows[i]`` at row ``positions[i]`` (one write per row)."""
        rows = np.ascontiguousarray(rows, dtype=self.dtype)
        if len(positions) != len(rows):
            raise ValueError("one position per row")
        if len(positions) and (positions.min() < 0 or positions.max() >= self.shape[0]):
            raise ValueError(f"{self.path}: row position out of range 0..{self.shape[0] - 1}")
        flat = memoryview(rows.reshape(len(rows), -1)).cast("B")
        size, base = self.row_bytes, self._header
        fd = self._fd
        for i, position in enumerate(positions.tolist()):
            os.pwrite(fd, flat[i * size:(i + 1) * size], base + position * size)
        self._written += len(rows)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None and self._written != self.shape[0]:
            err = ValueError(f"{self.path}: {self._written} rows written, expected "
                             f"{self.shape[0]}; the incomplete file was discarded")
            self._stack.__exit__(ValueError, err, None)  # closes, deletes the temporary file
            raise err
        if exc_type is None:
            os.fsync(self._fd)
        self._stack.__exit__(exc_type, exc, tb)
