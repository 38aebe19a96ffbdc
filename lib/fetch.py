"""Download the full-size IDX files of MNIST or Fashion-MNIST, verified (book/design.md, "Data").

    python -m lib.data fetch mnist|fashion-mnist --to DIR [--mirror URL] [--timeout S]

Each of the four standard .gz files (``lib.checksums.IDX_FILES``) is streamed from the first mirror
that answers into a temporary file in DIR, hashed on the way, and renamed to its final name only
when its SHA-256 equals the pinned value in ``lib.checksums.IDX_SHA256``; on any failure the temporary
file is deleted and the next mirror is tried, so nothing unverified ever lies under a final name.
A file already present and verified is kept (a rerun downloads only what is missing or corrupt).
Every request has a connect/read timeout, so a dead mirror fails within seconds.  Only the
standard library (urllib) is used.  The pinned checksums can be replaced only by calling
``fetch_idx(..., checksums=...)`` from Python (the tests do); the command line cannot.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from lib.checksums import DATASETS, HASH_CHUNK, IDX_FILES, IDX_SHA256, file_sha256

MIRRORS = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    "fashion-mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
}
DEFAULT_TIMEOUT = 10.0  # seconds, for connecting and for each read


class FetchError(OSError):
    """A file could not be downloaded and verified; the message names the URL(s) and fault."""


def fetch_idx(
    dataset: str, to, mirrors=None, timeout: float = DEFAULT_TIMEOUT, checksums=None, log=print
) -> Path:
    """Download and verify the four IDX .gz files of ``dataset`` into folder ``to``.

    ``dataset``: "mnist" or "fashion-mnist".  ``mirrors``: base URLs tried in order (default
    ``MIRRORS[dataset]``).  ``timeout``: seconds allowed to connect and for each read.
    ``checksums``: {file name: SHA-256}, default the pinned ``IDX_SHA256[dataset]`` (for tests
    only).  ``log`` receives one line per file.  Returns the folder's absolute path; raises
    FetchError naming every URL tried and its fault, or ValueError for bad arguments.
    """
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    mirrors = _check_mirrors(MIRRORS[dataset] if mirrors is None else mirrors)
    timeout = _check_timeout(timeout)
    checksums = IDX_SHA256[dataset] if checksums is None else checksums
    folder = Path(to).expanduser().resolve()
    created = _created_folders(folder)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        for name in IDX_FILES:
            log(f"{name}: {fetch_file(name, folder, mirrors, checksums[name], timeout)}")
    except BaseException:
        _remove_if_empty(created)  # a failed fetch leaves no empty folder behind
        raise
    return folder


def _created_folders(folder: Path) -> list:
    """The folders ``folder.mkdir(parents=True)`` would create, deepest first."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    return missing


def _remove_if_empty(folders) -> None:
    """Remove the folders this fetch created, deepest first, while they are empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:  # not empty (a verified file is kept) or already gone
            return


def _check_mirrors(mirrors) -> tuple:
    mirrors = (mirrors,) if isinstance(mirrors, str) else tuple(mirrors)
    if not mirrors:
        raise ValueError("mirrors: give at least one base URL")
    for url in mirrors:
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"mirror {url!r}: not an http:// or https:// URL")
    return mirrors


def _check_timeout(timeout) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if timeout == float("inf"):
        raise ValueError("timeout must be finite: a dead mirror must fail, not hang")
    return float(timeout)


def fetch_file(name: str, folder: Path, mirrors, expected: str, timeout: float) -> str:
    """Make ``folder/name`` a verified copy (SHA-256 ``expected``); say what was done.

    Keeps a present file whose checksum matches; otherwise downloads from each mirror in turn
    until one gives the expected bytes.  Raises FetchError listing every URL and its fault.
    """
    final = folder / name
    note = ""
    if final.is_file():
        if file_sha256(final) == expected:
            return "already present and verified"
        note = " (the file present had the wrong checksum and was replaced)"
    faults = []
    for mirror in mirrors:
        url = urllib.parse.urljoin(mirror if mirror.endswith("/") else mirror + "/", name)
        try:
            size = download_verified(url, final, expected, timeout)
        except FetchError as err:
            faults.append(str(err))
            continue
        return f"downloaded from {url} ({size:,} bytes, SHA-256 verified){note}"
    kept = f"; the unverified {final} already there was left as it was" if note else ""
    raise FetchError(f"{name}: no mirror gave a verified copy{kept}:\n  " + "\n  ".join(faults))


def download_verified(url: str, final: Path, expected: str, timeout: float) -> int:
    """Stream ``url`` to a temporary file beside ``final``; rename it only if its SHA-256 is
    ``expected``.  Returns the size; raises FetchError naming the URL and the fault, having
    deleted the temporary file."""
    handle, temp = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            size, digest = _stream(url, out, timeout)
        if digest != expected:
            raise FetchError(
                f"{url}: checksum mismatch: SHA-256 of the {size:,} bytes received "
                f"is {digest}, expected {expected}"
            )
        os.replace(temp, final)
        return size
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


def _stream(url: str, out, timeout: float):
    """Copy the body of ``url`` to ``out``; return (bytes, SHA-256 hex).  Any network fault,
    HTTP error or short body becomes a FetchError naming the URL."""
    digest, size = hashlib.sha256(), 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            while chunk := response.read(HASH_CHUNK):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
    except urllib.error.HTTPError as err:
        raise FetchError(f"{url}: HTTP error {err.code} {err.reason}") from err
    except urllib.error.URLError as err:
        raise FetchError(f"{url}: {_describe(err.reason)}") from err
    except (OSError, http.client.HTTPException) as err:
        raise FetchError(f"{url}: {_describe(err)}") from err
    if length is not None and length.isdigit() and size != int(length):
        raise FetchError(
            f"{url}: truncated download: received {size:,} of {int(length):,} bytes (Content-Length)"
        )
    return size, digest.hexdigest()


def _describe(reason) -> str:
    """A short description of a network fault."""
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return "timed out (no answer within the timeout)"
    if isinstance(reason, socket.gaierror):
        return f"host name lookup failed, no network? ({reason})"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused (nothing is listening there)"
    if isinstance(reason, http.client.IncompleteRead):
        return (
            f"truncated download: connection closed after {len(reason.partial):,} bytes "
            f"with {reason.expected:,} still expected"
        )
    return f"{type(reason).__name__}: {reason}"
