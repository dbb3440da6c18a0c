"""Downloads against a local HTTP server on 127.0.0.1: resume, retry, mirrors, checksums."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from rnnrepro.cli import main
from rnnrepro.data.download import DownloadError, fetch, partial_path

PAYLOAD = bytes(range(256)) * 4000  # 1 MB, not compressible to nothing


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Request:
    path: str
    range: str | None
    status: int
    body_bytes: int


@dataclass
class Server:
    """Serves ``files`` by URL path; behaviour switches for the tests."""

    files: dict[str, bytes] = field(default_factory=dict)
    range_support: bool = True
    status: dict[str, int] = field(default_factory=dict)      # path -> forced error status
    cut_after: dict[str, int] = field(default_factory=dict)   # path -> close after n bytes, once
    requests: list[Request] = field(default_factory=list)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def for_path(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]


def make_handler(state: Server) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            wanted = self.headers.get("Range")
            if self.path in state.status:
                return self._reply(state.status[self.path], b"failure", wanted)
            if self.path not in state.files:
                return self._reply(404, b"not found", wanted)
            data = state.files[self.path]
            start = 0
            if wanted and state.range_support:
                start = int(wanted.removeprefix("bytes=").split("-")[0])
            body = data[start:]
            self.send_response(206 if start else 200)
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            cut = state.cut_after.pop(self.path, None)
            sent = body if cut is None else body[:cut]
            state.requests.append(Request(self.path, wanted, 206 if start else 200, len(sent)))
            self.wfile.write(sent)
            self.wfile.flush()
            if cut is not None:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)

        def _reply(self, status: int, body: bytes, wanted: str | None) -> None:
            state.requests.append(Request(self.path, wanted, status, len(body)))
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@pytest.fixture
def server():
    state = Server()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy",
                 "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


def dead_url() -> str:
    """A URL on a port where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/file.bin"


def test_good_download(server, tmp_path):
    server.files["/file.bin"] = PAYLOAD
    out = tmp_path / "raw" / "file.bin"
    fetch("file.bin", sha256(PAYLOAD), [server.url("/file.bin")], out, backoff=0)
    assert out.read_bytes() == PAYLOAD
    assert not partial_path(out).exists()
    assert [r.range for r in server.requests] == [None]


def test_resume_sends_only_the_rest(server, tmp_path):
    server.files["/file.bin"] = PAYLOAD
    out = tmp_path / "file.bin"
    have = 300_001
    partial_path(out).write_bytes(PAYLOAD[:have])
    fetch("file.bin", sha256(PAYLOAD), [server.url("/file.bin")], out, backoff=0)
    assert out.read_bytes() == PAYLOAD
    (request,) = server.requests
    assert request.range == f"bytes={have}-"
    assert request.status == 206
    assert request.body_bytes == len(PAYLOAD) - have


def test_restarts_cleanly_when_server_ignores_range(server, tmp_path):
    server.files["/file.bin"] = PAYLOAD
    server.range_support = False
    out = tmp_path / "file.bin"
    partial_path(out).write_bytes(b"stale bytes from an older file")
    fetch("file.bin", sha256(PAYLOAD), [server.url("/file.bin")], out, backoff=0)
    assert out.read_bytes() == PAYLOAD
    assert server.requests[0].status == 200


def test_broken_connection_is_retried_with_backoff_and_resumed(server, tmp_path):
    server.files["/file.bin"] = PAYLOAD
    server.cut_after["/file.bin"] = 250_000
    waits: list[float] = []
    out = tmp_path / "file.bin"
    fetch("file.bin", sha256(PAYLOAD), [server.url("/file.bin")], out, attempts=3,
          backoff=1.5, sleep=waits.append)
    assert out.read_bytes() == PAYLOAD
    first, second = server.requests
    assert first.range is None and first.body_bytes == 250_000
    assert second.range == "bytes=250000-" and second.body_bytes == len(PAYLOAD) - 250_000
    assert waits == [1.5]


def test_wrong_checksum_leaves_nothing(server, tmp_path):
    server.files["/file.bin"] = PAYLOAD[::-1]
    out = tmp_path / "file.bin"
    with pytest.raises(DownloadError) as err:
        fetch("file.bin", sha256(PAYLOAD), [server.url("/file.bin")], out, backoff=0)
    message = str(err.value)
    assert "wrong checksum" in message and sha256(PAYLOAD) in message
    assert sha256(PAYLOAD[::-1]) in message
    assert not out.exists() and not partial_path(out).exists()


def test_dead_first_source_falls_back_to_mirror(server, tmp_path):
    server.files["/mirror/file.bin"] = PAYLOAD
    server.status["/canonical/file.bin"] = 503
    out = tmp_path / "file.bin"
    sources = [dead_url(), server.url("/canonical/file.bin"), server.url("/mirror/file.bin")]
    fetch("file.bin", sha256(PAYLOAD), sources, out, attempts=2, backoff=0)
    assert out.read_bytes() == PAYLOAD
    assert len(server.for_path("/canonical/file.bin")) == 2  # 503 is retried
    assert len(server.for_path("/mirror/file.bin")) == 1


def test_all_sources_dead_lists_each_and_the_manual_path(server, tmp_path):
    server.status["/gone/file.bin"] = 404
    sources = [dead_url(), server.url("/gone/file.bin"), str(tmp_path / "no-such-folder"),
               "ftp://example.org/file.bin"]
    out = tmp_path / "raw" / "file.bin"
    with pytest.raises(DownloadError) as err:
        fetch("file.bin", sha256(PAYLOAD), sources, out, attempts=3, backoff=0)
    message = str(err.value)
    assert "file.bin" in message.splitlines()[0]
    for source in sources:
        assert source in message
    assert "Connection refused" in message or "cannot connect" in message
    assert "HTTP 404" in message
    assert str(out.resolve()) in message
    assert len(server.for_path("/gone/file.bin")) == 1  # 404 is not retried
    assert not out.exists()


def test_gzip_payload_is_verified_not_the_container(server, tmp_path):
    payload = b"IDX-like payload " * 5000
    canonical = gzip.compress(payload, compresslevel=9, mtime=0)
    recompressed = gzip.compress(payload, compresslevel=1, mtime=123456)
    assert canonical != recompressed
    server.files["/data.gz"] = recompressed
    out = tmp_path / "data.gz"
    fetch("data.gz", sha256(payload), [server.url("/data.gz")], out, gzip_payload=True,
          backoff=0)
    assert gzip.decompress(out.read_bytes()) == payload
    out.unlink()
    server.files["/data.gz"] = gzip.compress(payload + b"!", mtime=0)
    with pytest.raises(DownloadError, match="gunzipped payload"):
        fetch("data.gz", sha256(payload), [server.url("/data.gz")], out, gzip_payload=True,
              backoff=0)
    assert not out.exists()


def test_local_folder_and_file_url_sources(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "file.bin").write_bytes(PAYLOAD)
    monkeypatch.chdir(tmp_path)
    first = tmp_path / "a" / "file.bin"
    fetch("file.bin", sha256(PAYLOAD), ["missing-folder", "mirror"], first)  # relative to cwd
    assert first.read_bytes() == PAYLOAD
    for url in (mirror.as_uri(), (mirror / "file.bin").as_uri()):
        out = tmp_path / "b" / "file.bin"
        fetch("file.bin", sha256(PAYLOAD), [url], out)
        assert out.read_bytes() == PAYLOAD
        out.unlink()


def test_local_dir_is_searched_first(server, tmp_path):
    server.files["/file.bin"] = PAYLOAD
    local = tmp_path / "downloads"
    local.mkdir()
    (local / "file.bin").write_bytes(PAYLOAD)
    out = tmp_path / "raw" / "file.bin"
    fetch("file.bin", sha256(PAYLOAD), [server.url("/file.bin")], out, local_dir=str(local))
    assert out.read_bytes() == PAYLOAD
    assert server.requests == []


def test_local_file_with_wrong_checksum_is_skipped(server, tmp_path):
    server.files["/file.bin"] = PAYLOAD
    local = tmp_path / "downloads"
    local.mkdir()
    (local / "file.bin").write_bytes(b"corrupt")
    out = tmp_path / "raw" / "file.bin"
    fetch("file.bin", sha256(PAYLOAD), [server.url("/file.bin")], out, local_dir=str(local))
    assert out.read_bytes() == PAYLOAD


def test_download_command_reports_failure_without_traceback(tmp_path, capsys):
    out = tmp_path / "raw" / "file.bin"
    code = main(["download", "--output", str(out), "--settings",
                 f'{{"checksum": "{sha256(PAYLOAD)}"}}', "--fetch-settings",
                 f'{{"sources": ["{tmp_path / "nowhere"}"], "attempts": 1}}'])
    err = capsys.readouterr().err
    assert code == 2
    assert "could not obtain file.bin" in err and str(out.resolve()) in err
    assert "Traceback" not in err
    assert not out.exists()


def test_download_command_fetches(server, tmp_path):
    server.files["/file.bin"] = PAYLOAD
    out = tmp_path / "file.bin"
    code = main(["download", "--output", str(out), "--settings",
                 f'{{"checksum": "{sha256(PAYLOAD)}", "gzip_payload": false}}',
                 "--fetch-settings", f'{{"sources": ["{server.url("/file.bin")}"]}}'])
    assert code == 0
    assert out.read_bytes() == PAYLOAD


def test_bad_checksum_syntax_is_rejected(tmp_path):
    with pytest.raises(Exception, match="md5:<32 hex digits>"):
        fetch("f", "crc32:1234", [str(tmp_path)], tmp_path / "f")


def test_existing_verified_output_is_kept(server, tmp_path):
    out = tmp_path / "file.bin"
    out.write_bytes(PAYLOAD)
    fetch("file.bin", sha256(PAYLOAD), [server.url("/file.bin")], out)
    assert server.requests == [] and out.read_bytes() == PAYLOAD


def test_resumed_but_corrupt_partial_restarts_from_scratch(server, tmp_path):
    server.files["/file.bin"] = PAYLOAD
    out = tmp_path / "file.bin"
    partial_path(out).write_bytes(b"\xff" * 1000)  # right length prefix, wrong bytes
    fetch("file.bin", sha256(PAYLOAD), [server.url("/file.bin")], out, attempts=2, backoff=0)
    assert out.read_bytes() == PAYLOAD
    assert [r.range for r in server.requests] == ["bytes=1000-", None]


def test_partial_is_kept_for_a_later_run_when_every_attempt_breaks(server, tmp_path):
    server.files["/file.bin"] = PAYLOAD
    out = tmp_path / "file.bin"
    server.cut_after["/file.bin"] = 100_000
    with pytest.raises(DownloadError):
        fetch("file.bin", sha256(PAYLOAD), [server.url("/file.bin")], out, attempts=1,
              backoff=0)
    assert partial_path(out).stat().st_size == 100_000
    assert not out.exists()
    fetch("file.bin", sha256(PAYLOAD), [server.url("/file.bin")], out, attempts=1, backoff=0)
    assert out.read_bytes() == PAYLOAD
    assert server.requests[-1].range == "bytes=100000-"


def test_output_path_of_the_rule_is_used_verbatim(tmp_path):
    # A folder source means <folder>/<filename>, not the output's name.
    src = tmp_path / "src"
    src.mkdir()
    (src / "name-at-source.bin").write_bytes(PAYLOAD)
    out = tmp_path / "renamed.bin"
    fetch("name-at-source.bin", sha256(PAYLOAD), [str(src)], out)
    assert Path(out).read_bytes() == PAYLOAD
