"""Speed of the PPICA annealer's cost (eq. 6.2): incremental KSG versus recomputing it.

For one proposal (move one source to the other cause) we time
  scratch      lib.mi.ksg_mi on the two groups (standardise, joint radii, marginal counts),
  radii reused lib.mi.ksg_from_radii (joint radii once per ICA run; marginal counts recomputed),
  incremental  IncrementalKSG.flip_cost (one pass over the n^2 violation counts), plus the cost
               of committing an accepted move (IncrementalKSG.flip),
and the one-off set-up of the incremental state. Sources: FastICA on the chapter-6 composites
(upright 0/1/2 + rotated 3/4/5, the bundled 1,500) and, for the thesis's n = 5,000, Laplace
noise of the same shape. Single-threaded (numba and BLAS), as inside a sweep worker.

    python benchmarks/ppica.py            # prints a table; --quick for a smaller run
"""

import argparse
import time

import numba
import numpy as np
from threadpoolctl import threadpool_limits

from lib.mi import ksg_from_radii, ksg_joint_radii, ksg_mi, standardize
from lib.ppica import IncrementalKSG, _fit_ica


def best_time(fn, repeat):
    """Smallest CPU time of ``repeat`` calls (the least disturbed by other processes)."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def sources(kind, n, d):
    if kind == "laplace":
        return np.random.default_rng(0).laplace(size=(n, d))
    from lib.data import make_composite

    X = make_composite("upright012_rot345", n=n, seed=0).x.reshape(n, -1).astype(np.float64)
    components, _, mean, _ = _fit_ica(X, d, 1e-2, 1000, 0)
    return (X - mean) @ components.T


def bench(kind, n, d, repeat):
    S = sources(kind, n, d)
    rng = np.random.default_rng(1)
    in_a = rng.permutation(d) < d // 2
    z = standardize(S, True, 0)
    eps = ksg_joint_radii(z, 3, device="cpu")
    moved = in_a.copy()
    moved[0] = not moved[0]
    row = {"data": kind, "n": n, "d": d}
    row["scratch"] = best_time(lambda: ksg_mi(S[:, moved], S[:, ~moved], device="cpu"), repeat)
    row["radii reused"] = best_time(
        lambda: ksg_from_radii(z[:, moved], z[:, ~moved], eps, 3, device="cpu"), repeat
    )
    start = time.process_time()
    state = IncrementalKSG(z, eps, in_a, 3)
    row["setup"] = time.process_time() - start
    row["incremental"] = best_time(lambda: state.flip_cost(0), 3 * repeat)
    row["commit"] = best_time(lambda: state.flip(0), 3 * repeat)  # flips back and forth
    check = state.in_a  # exactness (tests/test_ppica.py checks it on every flip)
    assert state.mi == ksg_from_radii(z[:, check], z[:, ~check], eps, 3, device="cpu")
    row["speed-up vs scratch"] = row["scratch"] / row["incremental"]
    row["speed-up vs radii reused"] = row["radii reused"] / row["incremental"]
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 400 only")
    args = parser.parse_args(argv)
    numba.set_num_threads(1)
    cases = (
        [("composites", 400, 50)]
        if args.quick
        else [("composites", 1500, 50), ("composites", 1500, 200), ("laplace", 5000, 200)]
    )
    print(
        f"{'data':>10} {'n':>5} {'d':>4} {'scratch':>9} {'radii':>9} {'setup':>8} "
        f"{'increm.':>9} {'commit':>9} {'x scratch':>10} {'x radii':>8}   (CPU seconds)"
    )
    with threadpool_limits(1):
        for kind, n, d in cases:
            r = bench(kind, n, d, repeat=2 if n > 2000 else 3)
            print(
                f"{kind:>10} {n:>5} {d:>4} {r['scratch']:9.4f} {r['radii reused']:9.4f} "
                f"{r['setup']:8.3f} {r['incremental']:9.5f} {r['commit']:9.5f} "
                f"{r['speed-up vs scratch']:10.0f} {r['speed-up vs radii reused']:8.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
