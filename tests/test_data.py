"""Tests of lib.data: MNIST loading (bundled and IDX) and the composite datasets."""

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from lib import checksums, data
from lib.data import KINDS, load_mnist, make_composite

N = 40
SUM_KINDS = [
    "three_rot_seven",
    "upright01_rot24",
    "upright012_rot345",
    "five_gradient",
    "toy_circle_square",
    "toy_sine_gradient",
    "toy_lines",
    "toy_bars_blocks",
]
SHAPES = {"simple": (28, 56), "three_beside_seven": (28, 56)}
LABELS = {  # kind -> (allowed label_a, allowed label_b)
    "simple": (range(10), range(10)),
    "additive": (range(10), range(10)),
    "occlusive": (range(10), range(10)),
    "mnist": (range(10), [-1]),
    "five_gradient": ([5], range(data.ANGLE_BINS)),
    "three_rot_seven": ([3], [7]),
    "three_beside_seven": ([3], [7]),
    "upright01_rot24": ([0, 1], [2, 4]),
    "upright012_rot345": ([0, 1, 2], [3, 4, 5]),
    "toy_circle_square": (range(25), range(25)),
    "toy_sine_gradient": (range(8), range(8)),
    "toy_lines": (range(8), range(8)),
    "toy_bars_blocks": (range(32), range(16)),
}


def test_bundled_mnist_matches_the_documented_subset():
    m = load_mnist()
    assert m.images.shape == (5000, 28, 28) and m.images.dtype == np.float32
    assert m.labels.dtype == np.int64 and (np.bincount(m.labels) == 500).all()
    assert 0.0 <= m.images.min() and m.images.max() <= 1.0 and m.images.max() > 0.99
    assert "5,000 digits" in m.source and "500 per class" in m.source
    assert load_mnist() is m  # cached in-process
    with pytest.raises(ValueError):
        m.images[0, 0, 0] = 1.0  # the cached arrays are read-only


def test_bundled_mnist_has_no_split():
    with pytest.raises(ValueError, match="no train/test split"):
        load_mnist(split="train")
    with pytest.raises(ValueError, match="unknown MNIST split"):
        load_mnist(split="validation")


@pytest.mark.parametrize("kind", KINDS)
def test_shapes_dtypes_ranges_and_labels(kind):
    c = make_composite(kind, n=N, seed=3)
    h, w = SHAPES.get(kind, (16, 16) if kind.startswith("toy_") else (28, 28))
    for arr in (c.x, c.part_a, c.part_b):
        assert arr.shape == (N, h, w) and arr.dtype == np.float32
    for part in (c.part_a, c.part_b):
        assert part.min() >= 0.0 and part.max() <= 1.0
    top = 2.0 if kind in SUM_KINDS else 1.0
    assert c.x.min() >= 0.0 and c.x.max() <= top + 1e-6
    assert c.label_a.dtype == np.int64 and c.label_b.dtype == np.int64
    allowed_a, allowed_b = LABELS[kind]
    assert set(c.label_a) <= set(allowed_a) and set(c.label_b) <= set(allowed_b)
    assert c.kind == kind and len(c) == N and kind in c.describe()
    flat_x, flat_a, flat_b = c.flat()
    assert flat_x.shape == (N, h * w) and np.shares_memory(flat_x, c.x)


@pytest.mark.parametrize("kind", KINDS)
def test_x_is_the_combination_of_its_parts(kind):
    c = make_composite(kind, n=N, seed=1)
    combined = np.maximum(c.part_a, c.part_b) if kind == "occlusive" else c.part_a + c.part_b
    np.testing.assert_allclose(c.x, combined, atol=1e-6)
    assert np.abs(c.part_a).sum() > 0
    if kind != "mnist":
        assert np.abs(c.part_b).sum() > 0


def test_parts_are_the_digits_the_thesis_describes():
    m = load_mnist()
    add = make_composite("additive", n=N, seed=2)
    assert add.part_a.max() <= 0.5 and add.x.max() <= 1.0  # (a + b) / 2 stays in [0, 1]
    occ = make_composite("occlusive", n=N, seed=2)
    assert set(np.unique(occ.x)) <= {0.0, 1.0}  # union of binarised digits
    plain = make_composite("mnist", n=N, seed=2)
    assert (plain.part_b == 0).all() and (plain.label_b == -1).all()
    simple = make_composite("simple", n=N, seed=2)
    assert (simple.part_a[:, :, 28:] == 0).all() and (simple.part_b[:, :, :28] == 0).all()
    rot = make_composite("upright01_rot24", n=N, seed=2)  # each rotated part is a rotated digit
    labels = m.labels[_digit_indices(np.rot90(rot.part_b, k=-1, axes=(1, 2)), m.images)]
    np.testing.assert_array_equal(labels, rot.label_b)
    grad = make_composite("five_gradient", n=N, seed=2).part_b
    assert np.allclose(grad.min((1, 2)), 0) and np.allclose(grad.max((1, 2)), 1)


def _digit_indices(parts, images):
    """Index in ``images`` of each (upright, 28x28) part, by exact byte match."""
    lookup = {image.tobytes(): i for i, image in enumerate(images)}
    assert len(lookup) == len(images), "the bundled digits are distinct"
    found = [lookup.get(np.ascontiguousarray(part, np.float32).tobytes()) for part in parts]
    assert None not in found, "every part must be an MNIST image"
    return np.array(found)


@pytest.mark.parametrize("kind", ["simple", "additive", "three_rot_seven", "upright012_rot345"])
def test_no_mnist_image_is_used_twice(kind):
    m = load_mnist()
    c = make_composite(kind, n=300, seed=5)
    a, b = c.part_a, c.part_b
    if kind == "simple":
        a, b = a[:, :, :28], b[:, :, 28:]
    elif kind == "additive":
        a, b = 2 * a, 2 * b
    else:
        b = np.rot90(b, k=-1, axes=(1, 2))
    idx_a, idx_b = _digit_indices(a, m.images), _digit_indices(b, m.images)
    np.testing.assert_array_equal(m.labels[idx_a], c.label_a)
    np.testing.assert_array_equal(m.labels[idx_b], c.label_b)
    used = np.concatenate([idx_a, idx_b])
    assert len(np.unique(used)) == len(used) == 600


def test_all_bundled_digits_can_be_used_exactly_once():
    m = load_mnist()
    c = make_composite("additive", seed=0)  # n=None: as many as the source allows
    assert len(c) == 2500
    pair_sums = np.sort((2 * c.x).reshape(len(c), -1).sum(1))
    assert np.isclose(pair_sums.sum(), m.images.sum(), rtol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_seeded_and_deterministic(kind):
    first, again = make_composite(kind, n=N, seed=7), make_composite(kind, n=N, seed=7)
    other = make_composite(kind, n=N, seed=8)
    np.testing.assert_array_equal(first.x, again.x)
    np.testing.assert_array_equal(first.label_b, again.label_b)
    assert not np.array_equal(first.x, other.x)


@pytest.mark.parametrize("kind", ["simple", "five_gradient", "upright01_rot24"])
def test_smaller_n_is_a_prefix(kind):
    small, large = make_composite(kind, n=20, seed=4), make_composite(kind, n=200, seed=4)
    np.testing.assert_array_equal(small.x, large.x[:20])


@pytest.mark.parametrize(
    "kind, available",
    [("three_rot_seven", 500), ("simple", 2500), ("upright012_rot345", 1500), ("mnist", 5000)],
)
def test_too_many_is_a_clear_error(kind, available):
    assert len(make_composite(kind)) == available
    with pytest.raises(ValueError, match=f"only {available:,} are available"):
        make_composite(kind, n=available + 1)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_bad_n_is_rejected(bad):
    with pytest.raises(ValueError, match="positive integer"):
        make_composite("additive", n=bad)


def test_unknown_kind_and_bad_options():
    with pytest.raises(ValueError, match="unknown composite kind"):
        make_composite("sideways")
    with pytest.raises(ValueError, match="lo < hi"):
        make_composite("additive", n=5, rescale=(1, -1))
    with pytest.raises(ValueError, match="pair"):
        make_composite("additive", n=5, rescale=3)
    with pytest.raises(ValueError, match="MNIST digits only"):
        make_composite("toy_lines", n=5, binarise=True)


def test_binarise_thresholds_digits_only():
    c = make_composite("five_gradient", n=N, seed=0, binarise=True)
    assert set(np.unique(c.part_a)) == {0.0, 1.0}
    assert len(np.unique(c.part_b)) > 2  # the gradient is not a digit
    plain = make_composite("five_gradient", n=N, seed=0)
    np.testing.assert_array_equal(c.part_a, plain.part_a > 0.5)


@pytest.mark.parametrize(
    "kind", ["simple", "additive", "occlusive", "three_rot_seven", "toy_bars_blocks", "mnist"]
)
def test_rescale_maps_parts_and_keeps_the_combination(kind):
    base = make_composite(kind, n=N, seed=0)
    c = make_composite(kind, n=N, seed=0, rescale=(-1, 1))
    combined = np.maximum(c.part_a, c.part_b) if kind == "occlusive" else c.part_a + c.part_b
    np.testing.assert_allclose(c.x, combined, atol=1e-6)
    if kind in ("simple", "mnist"):  # the part's own frame region is rescaled, the rest is 0
        np.testing.assert_allclose(c.part_a[:, :, :28], 2 * base.part_a[:, :, :28] - 1, atol=1e-6)
    elif kind == "additive":
        np.testing.assert_allclose(c.part_a, (2 * (2 * base.part_a) - 1) / 2, atol=1e-6)
    else:
        np.testing.assert_allclose(c.part_a, 2 * base.part_a - 1, atol=1e-6)
    assert c.part_a.min() < 0


# ----------------------------------------------------------------------------- IDX files
def _idx_images(n, rows=28, cols=28, magic=data.IMAGES_MAGIC, seed=0):
    pixels = np.random.default_rng(seed).integers(0, 256, size=(n, rows, cols), dtype=np.uint8)
    header = np.array([magic, n, rows, cols], ">u4").tobytes()
    return header + pixels.tobytes(), pixels


def _idx_labels(n, magic=data.LABELS_MAGIC, seed=0):
    labels = np.random.default_rng(seed).integers(0, 10, size=n, dtype=np.uint8)
    return np.array([magic, n], ">u4").tobytes() + labels.tobytes(), labels


def _write_mnist(folder, n_train=12, n_test=5, gz=False, dotted=False, overrides=None):
    """Write the four IDX files; ``overrides`` maps a stem to replacement bytes."""
    truth = {}
    blobs = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        blobs[f"{split}-images-idx3-ubyte"], truth[f"{split}-images"] = _idx_images(n, seed=n)
        blobs[f"{split}-labels-idx1-ubyte"], truth[f"{split}-labels"] = _idx_labels(n, seed=n)
    blobs.update(overrides or {})
    paths = {}
    for stem, blob in blobs.items():
        name = stem.replace("-idx", ".idx") if dotted else stem
        path = folder / (name + (".gz" if gz else ""))
        path.write_bytes(gzip.compress(blob) if gz else blob)
        paths[stem] = path
    return truth, paths


@pytest.mark.parametrize("gz, dotted", [(False, False), (True, False), (False, True)])
def test_idx_folder_is_read_exactly(tmp_path, gz, dotted):
    truth, _ = _write_mnist(tmp_path, gz=gz, dotted=dotted)
    m = load_mnist(tmp_path)
    assert m.images.shape == (17, 28, 28) and m.images.dtype == np.float32
    expected = np.concatenate([truth["train-images"], truth["t10k-images"]]) / 255.0
    np.testing.assert_allclose(m.images, expected, atol=1e-7)
    np.testing.assert_array_equal(m.labels, np.concatenate([truth["train-labels"], truth["t10k-labels"]]))
    assert m.source == (f"IDX files (unrecognised checksums) from {tmp_path}: 17 images (12 train + 5 test)")
    assert len(load_mnist(tmp_path, split="train")) == 12
    assert len(load_mnist(tmp_path, split="test")) == 5


def test_mnist_dir_environment_variable_and_composites(tmp_path, monkeypatch):
    _write_mnist(tmp_path, n_train=30, n_test=10)
    monkeypatch.setenv("MNIST_DIR", str(tmp_path))
    m = load_mnist()
    assert len(m) == 40 and f"IDX files (unrecognised checksums) from {tmp_path}" in m.source
    c = make_composite("additive", seed=0)
    assert len(c) == 20 and m.source in c.source


def test_missing_folder_and_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_mnist(tmp_path / "nowhere")
    _, paths = _write_mnist(tmp_path)
    paths["t10k-labels-idx1-ubyte"].unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        load_mnist(tmp_path)
    assert len(load_mnist(tmp_path, split="train")) == 12  # train files alone suffice


def _bad_case(name):
    good_images, _ = _idx_images(12, seed=12)
    good_labels, _ = _idx_labels(12, seed=12)
    wrong_labels = bytearray(good_labels)
    wrong_labels[-1] = 11
    return {
        "bad magic": (
            "train-images-idx3-ubyte",
            _idx_images(12, magic=2049, seed=12)[0],
            "bad magic number 2049",
        ),
        "truncated": ("train-images-idx3-ubyte", good_images[:-100], "truncated"),
        "trailing": ("train-labels-idx1-ubyte", good_labels + b"\x00", "trailing bytes"),
        "short header": ("train-labels-idx1-ubyte", good_labels[:6], "truncated header"),
        "wrong dims": (
            "train-images-idx3-ubyte",
            _idx_images(12, rows=32, cols=32, seed=12)[0],
            "32x32, expected 28x28",
        ),
        "count mismatch": (
            "train-labels-idx1-ubyte",
            _idx_labels(11, seed=12)[0],
            "12 images but .* 11 labels",
        ),
        "label value": ("train-labels-idx1-ubyte", bytes(wrong_labels), "label value 11"),
    }[name]


@pytest.mark.parametrize(
    "case",
    ["bad magic", "truncated", "trailing", "short header", "wrong dims", "count mismatch", "label value"],
)
def test_bad_idx_files_name_the_file_and_the_fault(tmp_path, case):
    stem, blob, fault = _bad_case(case)
    _write_mnist(tmp_path, overrides={stem: blob})
    with pytest.raises(ValueError, match=fault) as err:
        load_mnist(tmp_path)
    assert stem in str(err.value)


def test_corrupt_gzip_names_the_file(tmp_path):
    _, paths = _write_mnist(tmp_path, gz=True)
    path = paths["t10k-images-idx3-ubyte"]
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(ValueError, match="corrupt or truncated gzip") as err:
        load_mnist(tmp_path)
    assert "t10k-images-idx3-ubyte.gz" in str(err.value)


@pytest.mark.parametrize(
    "stem, kind", [("train-images-idx3-ubyte", "images"), ("train-labels-idx1-ubyte", "labels")]
)
def test_idx_file_with_no_items_is_an_error(tmp_path, stem, kind):
    empty = _idx_images(0)[0] if kind == "images" else _idx_labels(0)[0]
    _write_mnist(tmp_path, overrides={stem: empty})
    with pytest.raises(ValueError, match=f"holds no {kind}") as err:
        load_mnist(tmp_path, split="train")
    assert stem in str(err.value)


def test_gz_name_without_gzip_data_is_named(tmp_path):
    _, paths = _write_mnist(tmp_path, gz=True)
    path = paths["train-labels-idx1-ubyte"]
    path.write_bytes(_idx_labels(12, seed=12)[0])  # raw IDX bytes under a .gz name
    with pytest.raises(ValueError, match="named .gz but is not gzip data") as err:
        load_mnist(tmp_path)
    assert str(path) in str(err.value)


# ----------------------------------------------------------------------------- identification
def _pin(monkeypatch, paths, dataset="mnist", stems=None, content=False):
    """Make the files in ``paths`` (stem -> path) the pinned ones of ``dataset``."""
    stems = list(paths) if stems is None else stems
    table = {k: {} for k in data.IDX_SHA256}
    content_table = {k: {} for k in data.IDX_SHA256}
    for stem in stems:
        if content:
            blob = paths[stem].read_bytes()
            blob = gzip.decompress(blob) if blob[:2] == b"\x1f\x8b" else blob
            content_table[dataset][stem] = hashlib.sha256(blob).hexdigest()
        else:
            table[dataset][f"{stem}.gz"] = hashlib.sha256(paths[stem].read_bytes()).hexdigest()
    monkeypatch.setattr(data, "IDX_SHA256", table)
    monkeypatch.setattr(data, "IDX_CONTENT_SHA256", content_table)


def test_checksum_tables_are_complete():
    assert set(data.IDX_SHA256) == {"mnist", "fashion-mnist"} == set(data.DATASETS)
    for table in data.IDX_SHA256.values():
        assert set(table) == set(checksums.IDX_FILES) and len(checksums.IDX_FILES) == 4
        assert all(len(v) == 64 and int(v, 16) >= 0 for v in table.values())
    content = data.IDX_CONTENT_SHA256["fashion-mnist"]
    assert set(content) == {name[:-3] for name in checksums.IDX_FILES}


@pytest.mark.parametrize(
    "dataset, files, items",
    [("mnist", "full MNIST IDX", "digits"), ("fashion-mnist", "Fashion-MNIST IDX", "garments")],
)
def test_pinned_gz_files_are_identified_and_named_in_the_source(tmp_path, monkeypatch, dataset, files, items):
    _, paths = _write_mnist(tmp_path, gz=True)
    assert data.identify_idx_files(tmp_path) == "unknown"
    _pin(monkeypatch, paths, dataset)
    assert data.identify_idx_files(tmp_path) == dataset
    assert load_mnist(tmp_path).source == f"{files} from {tmp_path}: 17 {items} (12 train + 5 test)"
    assert load_mnist(tmp_path, split="test").source == f"{files} from {tmp_path}: 5 test {items}"


@pytest.mark.parametrize("gz", [False, True])
def test_raw_and_regzipped_files_are_identified_by_content(tmp_path, monkeypatch, gz):
    _, paths = _write_mnist(tmp_path, gz=gz)
    _pin(monkeypatch, paths, "fashion-mnist", content=True)
    assert data.identify_idx_files(tmp_path) == "fashion-mnist"
    if gz:  # the same content gzipped with another header time still matches
        path = paths["train-images-idx3-ubyte"]
        path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes()), mtime=12345))
        assert data.identify_idx_files(tmp_path) == "fashion-mnist"


def test_identification_needs_every_present_file_to_match_one_dataset(tmp_path, monkeypatch):
    _, paths = _write_mnist(tmp_path, gz=True)
    train = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"]
    _pin(monkeypatch, paths, "mnist", stems=train)
    assert data.identify_idx_files(tmp_path) == "unknown"  # test files unrecognised
    for stem in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        paths[stem].unlink()
    assert data.identify_idx_files(tmp_path) == "mnist"  # only the train files, both pinned
    table = data.IDX_SHA256
    table["fashion-mnist"]["train-labels-idx1-ubyte.gz"] = table["mnist"].pop("train-labels-idx1-ubyte.gz")
    assert data.identify_idx_files(tmp_path) == "unknown"  # two datasets mixed
    table["mnist"]["t10k-labels-idx1-ubyte.gz"] = table["fashion-mnist"].pop("train-labels-idx1-ubyte.gz")
    assert data.identify_idx_files(tmp_path) == "unknown"  # right hash under another name


def test_identification_of_empty_missing_and_corrupt(tmp_path):
    assert data.identify_idx_files(tmp_path) == "unknown"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data.identify_idx_files(tmp_path / "nowhere")
    _, paths = _write_mnist(tmp_path, gz=True)
    path = paths["train-images-idx3-ubyte"]
    path.write_bytes(path.read_bytes()[:30])
    assert data.identify_idx_files(tmp_path) == "unknown"


def test_each_file_is_hashed_once_per_process(tmp_path, monkeypatch):
    _, paths = _write_mnist(tmp_path, gz=True)
    calls = []
    real = checksums._hash_stream
    monkeypatch.setattr(checksums, "_hash_stream", lambda p, o: calls.append(p) or real(p, o))
    data.identify_idx_files(tmp_path)
    first = len(calls)
    assert first == 8  # 4 files as stored + 4 decompressed (none recognised)
    data.identify_idx_files(tmp_path)
    assert len(calls) == first
    path = paths["t10k-labels-idx1-ubyte"]
    path.write_bytes(gzip.compress(_idx_labels(6, seed=1)[0]))  # new size and mtime
    data.identify_idx_files(tmp_path)
    assert calls[first:] == [path, path]


def test_file_sha256_hashes_large_files_in_chunks(tmp_path):
    path = tmp_path / "big.bin"
    blob = np.random.default_rng(0).integers(0, 256, 3 * checksums.HASH_CHUNK + 17, np.uint8).tobytes()
    path.write_bytes(blob)
    assert data.file_sha256(path) == hashlib.sha256(blob).hexdigest()
    gz = tmp_path / "big.bin.gz"
    gz.write_bytes(gzip.compress(blob))
    assert data.file_sha256(gz, decompressed=True) == hashlib.sha256(blob).hexdigest()


DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(
    not (DEBIAN_FASHION / "t10k-labels-idx1-ubyte.gz").is_file(),
    reason="Debian package dataset-fashion-mnist not installed",
)
def test_debian_fashion_mnist_is_identified():
    assert data.identify_idx_files(DEBIAN_FASHION) == "fashion-mnist"
    m = load_mnist(DEBIAN_FASHION, split="test")
    assert m.source == f"Fashion-MNIST IDX from {DEBIAN_FASHION}: 10,000 test garments"


# ----------------------------------------------------------------------------- digit reuse
def test_reused_composites_hold_out_test_digits_and_say_how_often_digits_are_reused():
    from lib.data import make_reused_composite

    c = make_reused_composite("simple", 3000, 200, seed=1, binarise=True)
    assert c.x.shape == (3000, 28, 56) and c.n_test == 200
    r = c.reuse
    assert r["test_digits"] == 400 and r["test_digits_in_training"] == 0
    assert r["train_rows"] == 2800 and r["mean_uses_per_train_digit"] > 1
    assert "held-out" in c.source and "reuse" in c.source
    again = make_reused_composite("simple", 3000, 200, seed=1, binarise=True)
    assert np.array_equal(again.x, c.x)  # deterministic in the seed
    # the test rows' digits appear in no training row: no training image equals a test image
    test = {c.part_a[i].tobytes() for i in range(200)} | {c.part_b[i][:, 28:].tobytes() for i in range(200)}
    train_a = {c.part_a[i].tobytes() for i in range(200, 3000)}
    assert not (test & train_a)


def test_reused_composites_of_disjoint_classes_and_bad_requests():
    from lib.data import make_reused_composite

    c = make_reused_composite("upright012_rot345", 2000, 100, seed=0)
    assert set(np.unique(c.label_a)) <= {0, 1, 2} and set(np.unique(c.label_b)) <= {3, 4, 5}
    with pytest.raises(ValueError, match="two-digit kind"):
        make_reused_composite("mnist", 100, 10)
    with pytest.raises(ValueError, match="leaves no training rows"):
        make_reused_composite("simple", 100, 100)
    with pytest.raises(ValueError, match="training digits"):
        make_reused_composite("upright012_rot345", 2000, 1450)
