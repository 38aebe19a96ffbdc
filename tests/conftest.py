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


@pytest.fixture
def asae_stand_ins(monkeypatch):
    """Tiny stand-in composites and a cheap per-epoch score for ``lib.asae_runs.run_asae`` and
    ``run_asae_batched`` (both read them from ``lib.asae_runs``); returns the keywords
    of a run on them. In process only: worker processes do not see the stand-ins."""
    import types

    import numpy as np

    import lib.asae_runs

    rng = np.random.default_rng(1)
    fake = types.SimpleNamespace(
        x=(rng.random((40, 6, 8)) < 0.3).astype(np.float32),
        part_a=rng.random((40, 6, 8)),
        part_b=rng.random((40, 6, 8)),
        label_a=rng.integers(0, 3, 40),
        label_b=rng.integers(0, 3, 40),
        source="fake",
        n_test=0,
    )
    for module in (lib.asae_runs,):
        monkeypatch.setattr(module, "_composite", lambda kind, n, seed, data_dir, reuse_test=None: fake)
        monkeypatch.setattr(
            module,
            "asae_epoch_scores",
            lambda m, x, pa, pb, la, lb, random_state=0: {"ysum": float(m(x)["y"].detach().sum())},
        )
    return dict(kind="simple", n=40, epochs=2, n_eval=30, n_examples=2, batch_size=16, noise_std=0.1)


@pytest.fixture
def results_tmp(tmp_path, monkeypatch):
    """Results and references of one test in its own folder, the sweep log empty (test files
    with other needs define their own ``results_tmp``)."""
    from lib import experiments, run

    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setattr(run, "REFERENCE", tmp_path / "reference")
    experiments.SWEEP_LOG.clear()
    return tmp_path
