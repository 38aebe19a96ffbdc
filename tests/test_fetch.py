"""Tests of lib.fetch and ``python -m lib.data fetch``: verified downloads, no internet.

A real ThreadingHTTPServer on 127.0.0.1 serves small synthetic IDX .gz files; the pinned
checksums are replaced by the test files' own through ``fetch_idx(checksums=...)`` (or, for the
subprocess, by files that cannot verify, which is all that test needs).
"""

import functools
import gzip
import hashlib
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from lib import checksums, data
from lib.fetch import MIRRORS, FetchError, fetch_idx

ROOT = Path(__file__).resolve().parents[1]
PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


def _idx_blobs():
    """The four IDX .gz files of a tiny valid dataset (6 train, 3 test images)."""
    rng = np.random.default_rng(0)
    blobs = {}
    for split, n in (("train", 6), ("t10k", 3)):
        images = np.array([data.IMAGES_MAGIC, n, 28, 28], ">u4").tobytes()
        images += rng.integers(0, 256, (n, 28, 28), dtype=np.uint8).tobytes()
        labels = np.array([data.LABELS_MAGIC, n], ">u4").tobytes()
        labels += rng.integers(0, 10, n, dtype=np.uint8).tobytes()
        blobs[f"{split}-images-idx3-ubyte.gz"] = gzip.compress(images, mtime=0)
        blobs[f"{split}-labels-idx1-ubyte.gz"] = gzip.compress(labels, mtime=0)
    return blobs


BLOBS = _idx_blobs()
SUMS = {name: hashlib.sha256(blob).hexdigest() for name, blob in BLOBS.items()}


class _Handler(BaseHTTPRequestHandler):
    """Serves ``server.files``; ``server.truncate`` names files cut short after the headers."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        name = self.path.rsplit("/", 1)[-1]
        self.server.requests.append(name)
        blob = self.server.files.get(name)
        if blob is None:
            self.send_error(404, "no such file")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(blob)))
        self.end_headers()
        if name in self.server.truncate:
            self.wfile.write(blob[: len(blob) // 2])
            self.close_connection = True
            return
        self.wfile.write(blob)

    def log_message(self, *args):
        pass


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    """Keep every request on 127.0.0.1 whatever proxy the environment names."""
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "*")


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.files, httpd.truncate, httpd.requests = dict(BLOBS), set(), []
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/data/"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture
def dead_url():
    """A URL on 127.0.0.1 where nothing listens (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


def _fetch(to, mirrors, checksums=SUMS, timeout=5.0):
    lines = []
    folder = fetch_idx("mnist", to, mirrors=mirrors, timeout=timeout, checksums=checksums, log=lines.append)
    return folder, lines


def _leftovers(folder):
    """Every file in folder that is not a verified final file."""
    return sorted(
        p.name
        for p in Path(folder).iterdir()
        if hashlib.sha256(p.read_bytes()).hexdigest() != SUMS.get(p.name)
    )


def test_standard_mirrors_and_pinned_checksums():
    assert MIRRORS["mnist"] == (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    )
    assert MIRRORS["fashion-mnist"] == ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
    assert set(MIRRORS) == set(checksums.IDX_SHA256)


def test_download_lands_verified_and_loadable(server, tmp_path):
    folder, lines = _fetch(tmp_path / "new" / "mnist", [server.url])
    assert folder == (tmp_path / "new" / "mnist").resolve()
    assert sorted(p.name for p in folder.iterdir()) == sorted(checksums.IDX_FILES)
    assert _leftovers(folder) == []
    assert len(lines) == 4 and all("downloaded from http://127.0.0.1" in line for line in lines)
    assert all("SHA-256 verified" in line for line in lines)
    m = data.load_mnist(folder)
    assert len(m) == 9 and m.images.shape == (9, 28, 28)


def test_wrong_checksum_leaves_nothing(server, tmp_path):
    sums = dict(SUMS, **{"t10k-images-idx3-ubyte.gz": "0" * 64})
    with pytest.raises(FetchError, match="checksum mismatch") as err:
        _fetch(tmp_path, [server.url], checksums=sums)
    assert f"{server.url}t10k-images-idx3-ubyte.gz" in str(err.value)
    assert "t10k-images-idx3-ubyte.gz" not in os.listdir(tmp_path)
    assert _leftovers(tmp_path) == []  # no temporary file either


def test_dead_mirror_fails_at_once_naming_the_url(dead_url, tmp_path):
    start = time.monotonic()
    with pytest.raises(FetchError, match="connection refused") as err:
        _fetch(tmp_path, [dead_url])
    assert time.monotonic() - start < 5
    assert f"{dead_url}train-images-idx3-ubyte.gz" in str(err.value)
    assert os.listdir(tmp_path) == []


def test_silent_mirror_times_out(tmp_path):
    with socket.socket() as sock:  # accepts connections (backlog) but never answers
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
        start = time.monotonic()
        with pytest.raises(FetchError, match="timed out") as err:
            _fetch(tmp_path, [url], timeout=0.5)
        assert time.monotonic() - start < 5
    assert url in str(err.value)
    assert os.listdir(tmp_path) == []


def test_falls_back_to_the_next_mirror(dead_url, server, tmp_path):
    folder, lines = _fetch(tmp_path, [dead_url, server.url])
    assert _leftovers(folder) == [] and len(os.listdir(folder)) == 4
    assert all(f"downloaded from {server.url}" in line for line in lines)


def test_every_failure_is_listed(dead_url, server, tmp_path):
    server.files.pop("train-labels-idx1-ubyte.gz")
    with pytest.raises(FetchError) as err:
        _fetch(tmp_path, [dead_url, server.url])
    message = str(err.value)
    assert f"{dead_url}train-labels-idx1-ubyte.gz: connection refused" in message
    assert f"{server.url}train-labels-idx1-ubyte.gz: HTTP error 404" in message
    assert "train-labels-idx1-ubyte.gz" not in os.listdir(tmp_path)
    assert _leftovers(tmp_path) == []


def test_truncated_download_leaves_nothing(server, tmp_path):
    server.truncate.add("train-images-idx3-ubyte.gz")
    with pytest.raises(FetchError, match="truncated download") as err:
        _fetch(tmp_path, [server.url])
    assert f"{server.url}train-images-idx3-ubyte.gz" in str(err.value)
    assert os.listdir(tmp_path) == []


def test_rerun_skips_verified_files_and_replaces_corrupt_ones(server, tmp_path):
    _fetch(tmp_path, [server.url])
    assert len(server.requests) == 4
    _, lines = _fetch(tmp_path, [server.url])
    assert len(server.requests) == 4  # nothing downloaded again
    assert all(line.endswith("already present and verified") for line in lines)
    corrupt = tmp_path / "t10k-labels-idx1-ubyte.gz"
    corrupt.write_bytes(b"not the file")
    _, lines = _fetch(tmp_path, [server.url])
    assert server.requests[4:] == ["t10k-labels-idx1-ubyte.gz"]
    assert "wrong checksum and was replaced" in lines[3]
    assert _leftovers(tmp_path) == []


def test_corrupt_file_is_kept_when_no_mirror_works(dead_url, tmp_path):
    corrupt = tmp_path / "train-images-idx3-ubyte.gz"
    corrupt.write_bytes(b"someone's file")
    with pytest.raises(FetchError, match="unverified .* left as it was"):
        _fetch(tmp_path, [dead_url])
    assert corrupt.read_bytes() == b"someone's file"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"dataset": "cifar"}, "unknown dataset 'cifar'"),
        ({"mirrors": ["file:///etc/"]}, "not an http:// or https:// URL"),
        ({"mirrors": []}, "at least one base URL"),
        ({"timeout": 0}, "positive number of seconds"),
        ({"timeout": float("inf")}, "must be finite"),
        ({"timeout": True}, "positive number of seconds"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, message):
    args = dict(dataset="mnist", to=tmp_path, mirrors=["http://127.0.0.1:9/"], timeout=1.0)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        fetch_idx(args.pop("dataset"), args.pop("to"), checksums=SUMS, log=lambda _: None, **args)
    assert os.listdir(tmp_path) == []


# ---- the command line ----------------------------------------------------------------------------


def test_cli_success_prints_one_line_per_file_and_the_hint(server, tmp_path, capsys):
    fetch = functools.partial(fetch_idx, checksums=SUMS)
    status = data.main(
        ["fetch", "mnist", "--to", str(tmp_path), "--mirror", server.url, "--timeout", "5"], fetch=fetch
    )
    out = capsys.readouterr().out.splitlines()
    assert status == 0 and len(out) == 5
    assert all(line.startswith(name) for line, name in zip(out, checksums.IDX_FILES))
    assert f"MNIST_DIR={tmp_path}" in out[4] and f"-p data_dir {tmp_path}" in out[4]
    assert _leftovers(tmp_path) == []


def test_cli_refuses_unknown_datasets_and_has_no_checksum_override(capsys):
    with pytest.raises(SystemExit) as err:
        data.main(["fetch", "cifar", "--to", "x"])
    assert err.value.code == 2
    with pytest.raises(SystemExit):
        data.main(["fetch", "--help"])
    options = {
        line.split()[0].strip(",") for line in capsys.readouterr().out.splitlines() if line.startswith("  -")
    }
    assert options == {"-h", "--to", "--mirror", "--timeout"}


def test_python_m_lib_data_fetch_fails_clearly(dead_url, server, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARS}
    env["no_proxy"] = "*"
    command = [
        sys.executable,
        "-m",
        "lib.data",
        "fetch",
        "fashion-mnist",
        "--to",
        str(tmp_path),
        "--mirror",
        dead_url,
        "--mirror",
        server.url,
        "--timeout",
        "5",
    ]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "error: fetch fashion-mnist failed" in done.stderr
    assert f"{dead_url}train-images-idx3-ubyte.gz: connection refused" in done.stderr
    # the test files are not Fashion-MNIST: the pinned checksum rejects them
    assert f"{server.url}train-images-idx3-ubyte.gz: checksum mismatch" in done.stderr
    assert os.listdir(tmp_path) == []
