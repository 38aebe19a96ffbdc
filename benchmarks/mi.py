"""Time lib.mi.ksg_mi against NPEET's ``mi`` (package npeet-plus) on correlated Gaussians.

    python benchmarks/mi.py [--quick]

Grid: n in {2000, 5000, 20000} x dims in {2+2, 10+10, 50+50} (--quick: n <= 5000). Both get the
same standardised data with tie-breaking noise off (NPEET's own ``add_noise`` is replaced by the
identity), k = 3, nats. Times are best of 3 for n <= 5000 and one run for n = 20000 (wall and
process CPU seconds); numba compilation is done once before timing.
"""

import argparse
import time

import npeet_plus.estimators as npeet
import numpy as np

from lib.mi import ksg_mi, standardize

npeet.add_noise = lambda x, intens=0: x  # noise off on NPEET's side too


def gaussian_pairs(n, d, rho=0.6, seed=0):
    """x, y with d independent pairs (x_i, y_i) of correlation rho; MI = -d/2 log(1 - rho^2)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    return x, rho * x + np.sqrt(1 - rho**2) * rng.standard_normal((n, d))


def best_time(fn, repeats):
    """(value, best wall seconds, CPU seconds of that run) over ``repeats`` calls."""
    runs = []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        value = fn()
        runs.append((time.perf_counter() - wall, time.process_time() - cpu, value))
    wall, cpu, value = min(runs, key=lambda r: r[0])
    return value, wall, cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip n = 20000")
    args = parser.parse_args()
    ksg_mi(*gaussian_pairs(200, 10), noise=False)  # compile the numba kernels
    print(
        f"{'n':>6} {'dims':>6} {'ours s':>8} {'(cpu)':>7} {'NPEET s':>8} {'(cpu)':>7} "
        f"{'speedup':>8} {'ours MI':>9} {'NPEET MI':>9} {'|diff|':>8} {'truth':>7}"
    )
    for n in [2000, 5000] + ([] if args.quick else [20000]):
        for d in [2, 10, 50]:
            x, y = gaussian_pairs(n, d)
            xs, ys = standardize(x, noise=False), standardize(y, noise=False)
            repeats = 3 if n <= 5000 else 1
            ours, t_ours, c_ours = best_time(lambda: ksg_mi(x, y, noise=False), repeats)  # noqa: B023 (called at once)
            ref, t_ref, c_ref = best_time(lambda: npeet.mi(xs, ys, k=3, base=np.e), repeats)  # noqa: B023
            truth = -0.5 * d * np.log(1 - 0.6**2)
            print(
                f"{n:>6} {f'{d}+{d}':>6} {t_ours:>8.3f} {c_ours:>7.2f} {t_ref:>8.3f} {c_ref:>7.2f} "
                f"{t_ref / t_ours:>7.1f}x {ours:>9.4f} {ref:>9.4f} {abs(ours - ref):>8.1e} {truth:>7.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
