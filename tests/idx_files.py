"""Write MNIST-format IDX folders for tests (no network: the tests make their own data)."""

import numpy as np

from lib import data


def write_idx_folder(folder, images, labels, n_test=None):
    """Write ``images`` (uint8, n x 28 x 28) and ``labels`` as the four standard IDX files.

    The last ``n_test`` digits (default a fifth) become the t10k split. Returns the folder.
    """
    folder.mkdir(parents=True, exist_ok=True)
    images, labels = np.asarray(images, np.uint8), np.asarray(labels, np.uint8)
    n_test = len(labels) // 5 if n_test is None else n_test
    cut = len(labels) - n_test
    for split, rows in (("train", slice(0, cut)), ("t10k", slice(cut, None))):
        im, lb = images[rows], labels[rows]
        header = np.array([data.IMAGES_MAGIC, len(im), 28, 28], ">u4").tobytes()
        (folder / f"{split}-images-idx3-ubyte").write_bytes(header + im.tobytes())
        header = np.array([data.LABELS_MAGIC, len(lb)], ">u4").tobytes()
        (folder / f"{split}-labels-idx1-ubyte").write_bytes(header + lb.tobytes())
    return folder


def other_mnist(folder, seed=0):
    """Another MNIST: the bundled digits transposed and shuffled, written as IDX files."""
    mnist = data.load_mnist()
    order = np.random.default_rng(seed).permutation(len(mnist))
    images = np.round(mnist.images[order].transpose(0, 2, 1) * 255).astype(np.uint8)
    return write_idx_folder(folder, images, mnist.labels[order])
