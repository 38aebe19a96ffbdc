"""Every test writes results to a temporary folder, never to the user's ``results/``."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def temporary_results(tmp_path_factory):
    """Point ``$BOOK_RESULTS_DIR`` (read by lib.experiments and by chapter kernels) at a temp dir."""
    mp = pytest.MonkeyPatch()
    mp.setenv("BOOK_RESULTS_DIR", str(tmp_path_factory.mktemp("results")))
    mp.delenv("MNIST_DIR", raising=False)
    mp.delenv("BOOK_PROFILE", raising=False)
    yield
    mp.undo()
