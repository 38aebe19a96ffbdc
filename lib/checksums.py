"""Checksums of the IDX files: the pinned SHA-256 of MNIST and Fashion-MNIST, and file hashing.

The foundation both ``lib.data`` (which identifies a folder's files) and ``lib.fetch`` (which
verifies downloads) read, so that neither imports the other's internals.
"""

import gzip
import hashlib
import os
import zlib
from pathlib import Path

IDX_STEMS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
IDX_FILES = tuple(f"{stem}.gz" for pair in IDX_STEMS.values() for stem in pair)

# SHA-256 of the four standard IDX .gz files exactly as the public mirrors serve them.
# MNIST (https://ossci-datasets.s3.amazonaws.com/mnist/, https://storage.googleapis.com/cvdf-
# datasets/mnist/): tensorflow/datasets, tensorflow_datasets/url_checksums/mnist.txt (commit
# 31f1255e), which also gives the sizes 9,912,422 / 28,881 / 1,648,877 / 4,542 bytes; the same
# four values are pinned by many independent downloaders (e.g. torch.rb's MNIST resources).
# Fashion-MNIST (http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/): tensorflow/datasets,
# tensorflow_datasets/url_checksums/fashion_mnist.txt (commit 333639b3), sizes 26,421,880 /
# 29,515 / 4,422,102 / 5,148 bytes; the same values are pinned by Flux.jl's FashionMNIST loader.
# (Fashion-MNIST's README publishes only MD5s: 8d4fb7e6.., 25c81989.., bef4ecab.., bb300cfd..)
IDX_SHA256 = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
}
# SHA-256 of the decompressed IDX files, for raw files and for re-compressed .gz files (the gzip
# header holds a name and a time, so re-gzipping changes the .gz hash but not these).
# Fashion-MNIST: computed from the Debian package dataset-fashion-mnist
# (0.0~git20200523.55506a9-1, /usr/share/datasets/fashion-mnist/).  Its .gz files are the
# originals with the gzip header's name and time dropped: putting back the flag byte, the name and
# the time 2017-08-31 10:50:06 UTC (train files) or 10:50:27 UTC (t10k files) in front of the
# Debian deflate streams reproduces byte for byte the four .gz files pinned above (their SHA-256
# and the README's MD5s), so these are the contents of the original files.  MNIST: no published
# SHA-256 of the decompressed files was found, so raw (or re-gzipped) MNIST files identify as
# "unknown"; the original .gz files (as ``python -m lib.data fetch`` writes them) as "mnist".
IDX_CONTENT_SHA256 = {
    "mnist": {},
    "fashion-mnist": {
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}
DATASETS = tuple(IDX_SHA256)
HASH_CHUNK = 1 << 20  # hash files in 1 MiB chunks


_HASHES: dict = {}  # (path, size, mtime_ns, decompressed) -> SHA-256 hex digest


def file_sha256(path, decompressed: bool = False) -> str:
    """SHA-256 (hex) of the file as stored, or with ``decompressed`` of its gunzipped content.

    Hashed in 1 MiB chunks and cached per process by (path, size, mtime_ns), so each file is
    read once unless it changes.  Corrupt gzip data raises ValueError naming the file.
    """
    stat = os.stat(path)
    key = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns, decompressed)
    if key not in _HASHES:
        _HASHES[key] = _hash_content(path) if decompressed else _hash_stream(path, open)
    return _HASHES[key]


def _hash_stream(path, opener) -> str:
    digest = hashlib.sha256()
    with opener(path, "rb") as stream:
        while chunk := stream.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _hash_content(path) -> str:
    try:
        return _hash_stream(path, gzip.open)
    except (OSError, EOFError, zlib.error) as err:
        raise ValueError(f"{path}: corrupt or truncated gzip data ({err})") from err
