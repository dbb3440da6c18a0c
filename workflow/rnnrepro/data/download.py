"""Fetch one raw file from an ordered list of sources: resumable, retried, verified, atomic.

A source is an ``http(s)://`` URL, a ``file://`` URL, or a local folder (relative paths resolve
against the working directory; a folder means ``<folder>/<file name>``). ``local_dir`` is tried
before the sources. The file is written to ``<output>.partial``; an interrupted HTTP download
resumes with a Range request when the server answers 206 (and restarts cleanly on 200). Only a
file whose checksum matched is renamed to ``output``.
"""

from __future__ import annotations

import http.client
import logging
import os
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from rnnrepro import __version__
from rnnrepro.data.checksums import Checksum, ChecksumError, file_checksum
from rnnrepro.data.errors import DataError
from rnnrepro.execution import Progress

log = logging.getLogger("rnnrepro")

CHUNK = 1 << 20
USER_AGENT = f"rnnrepro/{__version__} (dataset download)"


class DownloadError(DataError):
    """No source delivered a file with the expected checksum."""


class SourceFailed(Exception):
    """One source could not deliver the file (the message says why)."""


class _Retry(Exception):
    """A transient failure: try the same source again after a pause."""


def partial_path(output: str | Path) -> Path:
    """Where an unfinished download of ``output`` lives (kept between runs to resume)."""
    output = Path(output)
    return output.with_name(output.name + ".partial")


def fetch(filename: str, checksum: str, sources: Sequence[str], output: str | Path, *,
          local_dir: str | None = None, gzip_payload: bool = False, attempts: int = 3,
          backoff: float = 2.0, timeout: float = 60.0,
          sleep: Callable[[float], None] = time.sleep) -> Path:
    """Obtain ``filename`` at ``output`` from the first source that delivers the right bytes.

    ``checksum`` is ``md5:<hex>`` or ``sha256:<hex>``, of the decompressed stream when
    ``gzip_payload``. Each HTTP source is tried ``attempts`` times, waiting
    ``backoff * 2**(k-1)`` seconds before retry ``k``. Raises :class:`DownloadError` listing
    every source and its error, and the path where the file can be placed by hand.
    """
    expected = Checksum.parse(checksum)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.exists():
        problem = _checksum_problem(output, expected, gzip_payload)
        if problem is None:
            log.info("%s: already present and verified", output)
            return output
        log.warning("%s: %s; fetching it again", output, problem)
        output.unlink()
    candidates = ([str(local_dir)] if local_dir else []) + [str(s) for s in sources]
    if not candidates:
        raise DownloadError(_failure_message(filename, [], output, expected, gzip_payload))
    failures: list[tuple[str, str]] = []
    for source in candidates:
        log.info("%s: trying %s", filename, source)
        try:
            _fetch_from(source, filename, output, expected, gzip_payload=gzip_payload,
                        attempts=attempts, backoff=backoff, timeout=timeout, sleep=sleep)
        except SourceFailed as err:
            log.warning("%s: %s failed: %s", filename, source, err)
            failures.append((source, str(err)))
            continue
        log.info("%s: verified (%s) and saved to %s", filename, expected, output)
        return output
    raise DownloadError(_failure_message(filename, failures, output, expected, gzip_payload))


def _failure_message(filename: str, failures: list[tuple[str, str]], output: Path,
                     expected: Checksum, gzip_payload: bool) -> str:
    lines = [f"could not obtain {filename}: every source failed."
             if failures else f"could not obtain {filename}: no sources are configured."]
    lines += [f"  - {source}: {error}" for source, error in failures]
    what = "of the gunzipped payload" if gzip_payload else "of the file"
    lines.append(f"Download {filename} by hand (expected checksum {what}: {expected}) and put it "
                 f"at {output.resolve()} (or in a folder named by the config key data.local_dir), "
                 "then rerun.")
    return "\n".join(lines)


def _checksum_problem(path: Path, expected: Checksum, gzip_payload: bool) -> str | None:
    """None when ``path`` has the expected checksum, else a description of the mismatch."""
    try:
        actual = file_checksum(path, expected.algorithm, gzip_payload)
    except ChecksumError as err:
        return str(err)
    if actual == expected.digest:
        return None
    what = "gunzipped payload" if gzip_payload else "file"
    return f"wrong checksum: expected {expected}, the {what} has {expected.algorithm}:{actual}"


def _fetch_from(source: str, filename: str, output: Path, expected: Checksum, *,
                gzip_payload: bool, attempts: int, backoff: float, timeout: float,
                sleep: Callable[[float], None]) -> None:
    """Deliver the verified file to ``output`` from one source, or raise SourceFailed."""
    partial = partial_path(output)
    scheme = urllib.parse.urlparse(source).scheme.lower() if "://" in source else ""
    if scheme in ("http", "https"):
        _fetch_http(source, partial, output, expected, gzip_payload=gzip_payload,
                    attempts=attempts, backoff=backoff, timeout=timeout, sleep=sleep)
        return
    if scheme == "file":
        path = Path(urllib.request.url2pathname(urllib.parse.urlparse(source).path))
        if path.is_dir():
            path = path / filename
    elif scheme:
        raise SourceFailed(f"unsupported URL scheme {scheme!r} (use http, https, file or a "
                           "local folder)")
    else:
        folder = Path(source)
        if not folder.is_dir():
            raise SourceFailed(f"folder {folder.resolve()} does not exist")
        path = folder / filename
    _copy_local(path, partial, output, expected, gzip_payload)


def _copy_local(path: Path, partial: Path, output: Path, expected: Checksum,
                gzip_payload: bool) -> None:
    if not path.is_file():
        raise SourceFailed(f"no file {path.resolve()}")
    try:
        with open(path, "rb") as src, open(partial, "wb") as dst:
            shutil.copyfileobj(src, dst, CHUNK)
    except OSError as err:
        partial.unlink(missing_ok=True)
        raise SourceFailed(f"cannot copy {path}: {err}") from err
    _finish(partial, output, expected, gzip_payload)


def _finish(partial: Path, output: Path, expected: Checksum, gzip_payload: bool) -> None:
    """Rename a verified partial file into place; delete it if the checksum is wrong."""
    problem = _checksum_problem(partial, expected, gzip_payload)
    if problem is not None:
        partial.unlink(missing_ok=True)
        raise SourceFailed(problem)
    os.replace(partial, output)


def _fetch_http(url: str, partial: Path, output: Path, expected: Checksum, *, gzip_payload: bool,
                attempts: int, backoff: float, timeout: float,
                sleep: Callable[[float], None]) -> None:
    last_error = "no attempt made"
    for attempt in range(1, attempts + 1):
        if attempt > 1 and backoff > 0:
            wait = backoff * 2 ** (attempt - 2)
            log.info("%s: retry %d/%d in %.1f s", url, attempt, attempts, wait)
            sleep(wait)
        try:
            resumed = _http_to_partial(url, partial, timeout)
        except _Retry as err:
            last_error = str(err)
            log.warning("%s: attempt %d/%d: %s", url, attempt, attempts, err)
            continue
        problem = _checksum_problem(partial, expected, gzip_payload)
        if problem is None:
            os.replace(partial, output)
            return
        partial.unlink(missing_ok=True)
        if not resumed:
            raise SourceFailed(problem)
        # The kept partial file may have come from another source or version: start over.
        last_error = f"{problem} (after resuming; restarting from scratch)"
        log.warning("%s: %s", url, last_error)
    raise SourceFailed(f"{attempts} attempt(s) failed; last error: {last_error}")


def _http_to_partial(url: str, partial: Path, timeout: float) -> bool:
    """Download (the rest of) ``url`` into ``partial``; return whether it resumed.

    Raises _Retry for transient failures (the partial file is kept to resume) and
    SourceFailed for permanent ones (e.g. 404).
    """
    offset = partial.stat().st_size if partial.exists() else 0
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        err.close()
        if err.code == 416 and offset:
            partial.unlink(missing_ok=True)
            raise _Retry("server refused to resume (HTTP 416); restarting") from err
        if 400 <= err.code < 500 and err.code not in (408, 425, 429):
            raise SourceFailed(f"HTTP {err.code} {err.reason}") from err
        raise _Retry(f"HTTP {err.code} {err.reason}") from err
    except (OSError, http.client.HTTPException) as err:
        raise _Retry(_describe(err)) from err
    with response:
        if response.status == 206 and offset:
            start = _range_start(response.headers.get("Content-Range", ""))
            if start != offset:
                partial.unlink(missing_ok=True)
                raise _Retry(f"server resumed at byte {start}, not {offset}; restarting")
            mode = "ab"
            log.info("%s: resuming at byte %d", url, offset)
        elif response.status == 200:
            if offset:
                log.info("%s: server does not resume; restarting from byte 0", url)
            mode, offset = "wb", 0
        else:
            raise _Retry(f"unexpected HTTP status {response.status}")
        length = response.headers.get("Content-Length")
        expected_bytes = int(length) if length and length.isdigit() else None
        progress = (Progress(offset + expected_bytes, url.rsplit("/", 1)[-1], unit="bytes")
                    if expected_bytes else None)
        received = 0
        try:
            with open(partial, mode) as fh:
                while block := response.read(CHUNK):
                    fh.write(block)
                    received += len(block)
                    if progress:
                        progress.update(offset + received)
        except (OSError, http.client.HTTPException) as err:
            raise _Retry(f"connection broke after {offset + received} bytes "
                         f"({_describe(err)}); the next attempt resumes") from err
    if expected_bytes is not None and received != expected_bytes:
        raise _Retry(f"got {received} of {expected_bytes} bytes; the next attempt resumes")
    return offset > 0


def _range_start(content_range: str) -> int | None:
    """First byte of a ``Content-Range: bytes a-b/n`` header (None if unparsable)."""
    unit, _, spec = content_range.strip().partition(" ")
    start = spec.split("-", 1)[0]
    return int(start) if unit == "bytes" and start.isdigit() else None


def _describe(err: BaseException) -> str:
    if isinstance(err, urllib.error.URLError) and not isinstance(err, urllib.error.HTTPError):
        return f"cannot connect ({err.reason})"
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
