"""The parsed bundled MNIST is cached on disk, keyed by the CSV's checksum, and a cached load
returns exactly what a parse returns (lib.data._bundled_arrays)."""

import numpy as np

import lib.data as data


def test_cache_hit_equals_parse_and_bad_cache_falls_back(tmp_path, monkeypatch):
    monkeypatch.setenv("BOOK_CACHE_DIR", str(tmp_path))
    calls = []
    parse = data._parse_bundled

    def counting_parse():
        calls.append(1)
        return parse()

    monkeypatch.setattr(data, "_parse_bundled", counting_parse)
    flat, labels = data._bundled_arrays()  # miss: parses and writes the cache
    (cached,) = tmp_path.glob("mnist_5k-*.npz")
    assert not list(tmp_path.glob("*.tmp"))
    again, again_labels = data._bundled_arrays()  # hit: no parse
    assert len(calls) == 1
    assert again.dtype == flat.dtype and np.array_equal(again, flat)
    assert again_labels.dtype == labels.dtype and np.array_equal(again_labels, labels)
    cached.write_bytes(b"not a zip")  # a damaged cache: parse again and rewrite it
    third, _ = data._bundled_arrays()
    assert len(calls) == 2 and np.array_equal(third, flat)
    with np.load(cached) as z:
        assert np.array_equal(z["pixels"], flat)
