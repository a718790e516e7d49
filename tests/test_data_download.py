"""Registry + safe fetch, tested against a local HTTP server on 127.0.0.1 (no internet)."""

from __future__ import annotations

import hashlib
import io
import socket
import tarfile
import threading
import urllib.parse
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sbir_lib.data import registry
from sbir_lib.data.download import download, extract_archive
from sbir_lib.data.registry import Resource
from sbir_lib.errors import DataError

PAYLOAD = bytes(range(256)) * 400  # 102,400 bytes


@pytest.fixture(autouse=True)
def _downloads_allowed(monkeypatch):
    """Every URL in this file points at the local test server on 127.0.0.1: allow downloads here
    (tests/conftest.py sets SBIR_OFFLINE=1 for every other test)."""
    monkeypatch.delenv("SBIR_OFFLINE", raising=False)


class _Server:
    """Serves ``files`` (unquoted path -> bytes); honours Range; can drop a transfer half-way once."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.drop_once: set[str] = set()
        self.range_headers: list[str | None] = []
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
                outer.requests.append(path)
                rng = self.headers.get("Range")
                outer.range_headers.append(rng)
                if path not in outer.files:
                    self.send_error(404, "Not Found")
                    return
                data = outer.files[path]
                start = int(rng.split("=")[1].split("-")[0]) if rng else 0
                body = data[start:]
                self.send_response(206 if rng else 200)
                if rng:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if path in outer.drop_once:
                    outer.drop_once.discard(path)
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    srv = _Server()
    yield srv
    srv.close()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("SBIR_DATA", str(root))
    monkeypatch.setenv("SBIR_DATA_MIRROR", "")
    return root


def _register(monkeypatch, res: Resource) -> Resource:
    monkeypatch.setitem(registry._STATIC, res.name, res)
    return res


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


FAST = dict(retries=2, backoff=0.01, timeout=5, progress=False)


def test_fetch_downloads_verifies_and_caches(server, cache, monkeypatch):
    server.files["/data/blob.bin"] = PAYLOAD
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    _register(monkeypatch, Resource("test/blob.bin", "quickdraw", (server.url + "/data/blob.bin",), sha256=digest))
    path = registry.fetch("test/blob.bin", **FAST)
    assert path == cache / "test" / "blob.bin"
    assert path.read_bytes() == PAYLOAD
    assert _files(cache) == [path]  # no .part left
    # second fetch is served from the cache: no new request
    n = len(server.requests)
    assert registry.fetch("test/blob.bin", **FAST) == path
    assert len(server.requests) == n


def test_checksum_mismatch_is_rejected_and_nothing_cached(server, cache, monkeypatch):
    server.files["/data/blob.bin"] = PAYLOAD
    _register(monkeypatch, Resource("test/blob.bin", "quickdraw", (server.url + "/data/blob.bin",), sha256="0" * 64))
    with pytest.raises(DataError, match="sha256 mismatch"):
        registry.fetch("test/blob.bin", **FAST)
    assert _files(cache) == []


def test_dropped_connection_is_resumed_with_range(server, cache, monkeypatch):
    server.files["/data/blob.bin"] = PAYLOAD
    server.drop_once.add("/data/blob.bin")
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    _register(monkeypatch, Resource("test/blob.bin", "quickdraw", (server.url + "/data/blob.bin",), sha256=digest))
    path = registry.fetch("test/blob.bin", **FAST)
    assert path.read_bytes() == PAYLOAD
    assert server.range_headers[0] is None
    assert server.range_headers[1] == f"bytes={len(PAYLOAD) // 2}-"  # resumed, not restarted
    assert len(server.requests) == 2


def test_404_raises_with_instructions_and_tries_next_url(server, cache, monkeypatch):
    _register(monkeypatch, Resource("test/missing.bin", "quickdraw", (server.url + "/nope.bin",)))
    with pytest.raises(DataError, match=r"(?s)HTTP 404.*To get it by hand: download http://127\.0\.0\.1.*"
                                        r"put it at .*cache/test/missing\.bin"):
        registry.fetch("test/missing.bin", **FAST)
    assert server.requests == ["/nope.bin"]  # 404 is not retried
    assert _files(cache) == []
    server.files["/mirror2.bin"] = b"ok"
    _register(monkeypatch, Resource("test/two.bin", "quickdraw", (server.url + "/nope.bin", server.url + "/mirror2.bin")))
    assert registry.fetch("test/two.bin", **FAST).read_bytes() == b"ok"


def test_quickdraw_name_with_spaces_is_url_encoded(server, cache, monkeypatch):
    line = b'{"word":"The Eiffel Tower","key_id":"1","recognized":true,"drawing":[[[0,10],[0,5]]]}\n'
    server.files["/full/simplified/The Eiffel Tower.ndjson"] = line
    monkeypatch.setattr(registry, "QUICKDRAW_BASE_URL", server.url + "/")
    path = registry.fetch("quickdraw/simplified/The Eiffel Tower.ndjson", **FAST)
    assert path == cache / "quickdraw" / "simplified" / "The Eiffel Tower.ndjson"
    assert path.read_bytes() == line
    from sbir_lib.data.quickdraw import load_quickdraw_ndjson
    sketches = load_quickdraw_ndjson(path)
    assert sketches[0].label == "The Eiffel Tower"
    assert sketches[0].strokes.tolist() == [[0, 0, 0], [10, 5, 1]]


def test_download_without_network_lists_every_failure(tmp_path):
    with pytest.raises(DataError, match="could not download x.bin"):
        download(["http://127.0.0.1:9/x.bin"], tmp_path / "x.bin", retries=1, backoff=0.01, timeout=2, progress=False)
    assert _files(tmp_path) == []


def test_offline_error_says_what_where(cache):
    with pytest.raises(DataError, match=r"(?s)downloads are disabled.*storage\.googleapis\.com/quickdraw_dataset/"
                                        r"sketchrnn/cat\.npz.*put it at .*quickdraw/sketchrnn/cat\.npz"):
        registry.fetch("quickdraw/sketchrnn/cat.npz", download_missing=False)


def test_unknown_names_are_clear_errors():
    with pytest.raises(DataError, match="unknown QuickDraw class 'eifel tower'"):
        registry.get_resource("quickdraw/raw/eifel tower.ndjson")
    with pytest.raises(DataError, match="unknown dataset resource 'qmul_shoes_v1/shoes.json'"):
        registry.get_resource("qmul_shoes_v1/shoes.json")


def test_manual_resource_explains_how_to_get_it(cache):
    with pytest.raises(DataError, match=r"(?s)sketchy\.eye\.gatech\.edu.*sketchy/256x256"):
        registry.fetch("sketchy/256x256")


def test_mirror_is_used_first_and_verified(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    (mirror / "test").mkdir(parents=True)
    (mirror / "test" / "m.bin").write_bytes(b"mirror data")
    monkeypatch.setenv("SBIR_DATA_MIRROR", f"{tmp_path / 'absent'}:{mirror}")
    monkeypatch.setenv("SBIR_DATA", str(tmp_path / "cache"))
    _register(monkeypatch, Resource("test/m.bin", "quickdraw", ("http://127.0.0.1:9/never",)))
    assert registry.fetch("test/m.bin", **FAST) == mirror / "test" / "m.bin"
    # a mirror manifest that disagrees with the file is an error, not a silent use
    (mirror / "SHA256SUMS").write_text(f"{'1' * 64}  ./test/m.bin\n")
    with pytest.raises(DataError, match="sha256 mismatch"):
        registry.fetch("test/m.bin", **FAST)


def test_shared_data_mirror_serves_qmul(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("SBIR_DATA_MIRROR", str(shared_data))
    monkeypatch.setenv("SBIR_DATA", str(tmp_path / "cache"))
    path = registry.fetch("qmul_shoes_v1/shoes_annotation.json", download_missing=False)
    assert path == shared_data / "qmul_shoes_v1" / "shoes_annotation.json"
    assert not (tmp_path / "cache").exists()


def test_archive_member_is_extracted_verified_and_cached(server, cache, monkeypatch):
    buf = io.BytesIO()
    content = b'{"train": {}}'
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("release/data/chairs_annotation.json")
        info.size = len(content)
        tf.addfile(info, io.BytesIO(content))
    server.files["/release.tar"] = buf.getvalue()
    _register(monkeypatch, Resource("qmul_v1/sbir_cvpr2016.tar", "qmul_v1", (server.url + "/release.tar",), extract=True))
    _register(monkeypatch, Resource("qmul_chairs_v1/chairs_annotation.json", "qmul_v1",
                                    sha256=hashlib.sha256(content).hexdigest(), archive="qmul_v1/sbir_cvpr2016.tar"))
    path = registry.fetch("qmul_chairs_v1/chairs_annotation.json", **FAST)
    assert path == cache / "qmul_chairs_v1" / "chairs_annotation.json"
    assert path.read_bytes() == content
    assert (cache / "qmul_v1" / "sbir_cvpr2016" / "release" / "data" / "chairs_annotation.json").is_file()
    assert not (cache / "qmul_v1" / "sbir_cvpr2016.tar").exists()  # archive removed after extraction


def test_extraction_refuses_escaping_paths(tmp_path):
    evil_zip = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil_zip, "w") as zf:
        zf.writestr("ok.txt", "fine")
        zf.writestr("../escaped.txt", "bad")
    with pytest.raises(DataError, match="escapes the target folder"):
        extract_archive(evil_zip, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "escaped.txt").exists()

    evil_tar = tmp_path / "evil.tar"
    with tarfile.open(evil_tar, "w") as tf:
        link = tarfile.TarInfo("link")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(link)
    with pytest.raises(DataError, match="points outside the target folder"):
        extract_archive(evil_tar, tmp_path / "out2")
    assert not (tmp_path / "out2").exists()

    abs_tar = tmp_path / "abs.tar"
    with tarfile.open(abs_tar, "w") as tf:
        info = tarfile.TarInfo("/tmp/abs.txt")
        info.size = 1
        tf.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(DataError, match="escapes the target folder"):
        extract_archive(abs_tar, tmp_path / "out3")


def test_extraction_of_a_good_zip_and_a_truncated_one(tmp_path):
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr("png/cat/1.png", b"img")
    out = extract_archive(good, tmp_path / "good")
    assert (out / "png" / "cat" / "1.png").read_bytes() == b"img"
    bad = tmp_path / "bad.zip"
    bad.write_bytes(good.read_bytes()[:20])
    with pytest.raises(DataError, match="not a zip or tar archive"):
        extract_archive(bad, tmp_path / "bad")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_offline_mode_never_downloads_and_says_why(tmp_path, monkeypatch):
    """SBIR_OFFLINE=1: a resource missing from mirrors and cache raises at once, naming the switch."""
    from sbir_lib.data import registry
    from sbir_lib.errors import DataError

    monkeypatch.setenv("SBIR_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("SBIR_DATA_MIRROR", str(tmp_path / "empty-mirror"))
    monkeypatch.setenv("SBIR_OFFLINE", "1")
    assert registry.offline()
    name = registry.quickdraw_resource_name("cat", "simplified")
    with pytest.raises(DataError, match=r"downloads are disabled \(SBIR_OFFLINE=1"):
        registry.fetch(name)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.ndjson"))
    monkeypatch.setenv("SBIR_OFFLINE", "0")
    assert not registry.offline()
