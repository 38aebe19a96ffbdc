"""Positive-control toys for chapter 9 (issue 22): data with two known independent causes.

Each toy draws independent causes u, v (``n_cause`` dims each, unit variance per dim; ``cause``:
"uniform" iid on [-sqrt 3, sqrt 3], "gaussian" N(0, I), or "ball" uniform in the n_cause-ball,
whose dims are uncorrelated but dependent) and two fixed random
maps A, B (``n_cause`` -> ``half`` pixels, entries N(0, 1 / n_cause)); a part's pixels are
``(1 + tanh(A u)) / 2`` (the tanh of the issue, shifted into [0, 1] so that the models' sigmoid
decoders can reach every pixel, as on MNIST):

* ``"halves"``: x = [part_a(u), part_b(v)], the two causes in separate pixels (2 * half pixels);
* ``"interleaved"``: the same pixels put through one fixed random permutation, so a model cannot
  find the split by position (an MLP is permutation-blind, so this checks nothing else changed);
* ``"additive"``: x = part_a(u) + part_b(v) (half pixels, values in [0, 2]): the chapter-8 setting,
  each pixel a sum of both causes (the ASAE's y = y_A + y_B, section 8.3).

Which toys independence can solve (measured in lib.toy_study; the reason the choice matters):

* "gaussian": every rotation of (u, v) is again a pair of independent Gaussian codes, so no
  independence criterion (the DDN's, the adversarial one, KSG MI) can tell the separated codes
  from a 45-degree mix (Darmois-Skitovich; why ICA needs non-Gaussian sources, chapter 5).
* "uniform" with n_cause > 1: the 2 n_cause scalars u_1..u_d, v_1..v_d are *all* mutually
  independent, so any split of them into two groups of d (z_a = (u_1, u_2, v_1, v_2), ...) is as
  independent as (u, v) itself: separation is not identifiable by independence, and a model that
  finds such a split reads each cause at R^2 ~ 0.5 from each code. This is the issue's toy as
  stated; it tests a model's inductive bias, not its independence criterion.
* "ball", or any cause with n_cause = 1: a cause's dims cannot be split into independent groups
  by a simple map, so the separated codes are the simple independent solution (nonlinear ICA is
  never identifiable in theory, Hyvarinen and Pajunen 1999; here the wrong solutions need
  contorted maps).

Every toy is a function of (kind, n, n_cause, half, seed, cause) only: the maps and the
permutation come
from ``seed`` and the rows from ``seed + 1`` (so two sizes of one toy share their maps).
"""

from dataclasses import dataclass

import numpy as np

KINDS = ("halves", "interleaved", "additive")
CAUSES = ("uniform", "gaussian", "ball")


@dataclass(frozen=True)
class Toy:
    """One toy dataset: ``x`` (n, d) float32, the causes ``u``, ``v`` (n, n_cause) and each
    cause's own pixels ``part_a``, ``part_b`` (n, half), in the toy's pixel layout for the
    separated toys (zeros elsewhere are not stored; ``perm`` maps them into x)."""

    kind: str
    x: np.ndarray
    u: np.ndarray
    v: np.ndarray
    part_a: np.ndarray
    part_b: np.ndarray
    perm: np.ndarray | None


def _check_int(name, value, low):
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def maps(n_cause: int, half: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fixed maps A, B (n_cause, half) and the interleaving permutation of 2 * half pixels."""
    rng = np.random.default_rng(seed)
    a = rng.normal(0, 1 / np.sqrt(n_cause), (n_cause, half))
    b = rng.normal(0, 1 / np.sqrt(n_cause), (n_cause, half))
    return a, b, rng.permutation(2 * half)


def make_toy(
    kind: str,
    n: int = 2000,
    n_cause: int = 4,
    half: int = 64,
    seed: int = 0,
    cause: str = "uniform",
) -> Toy:
    """Draw toy ``kind`` (one of KINDS) with n rows, ``n_cause`` dims per cause, ``half`` pixels
    per cause's part; deterministic in its arguments."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if cause not in CAUSES:
        raise ValueError(f"cause must be one of {CAUSES}, got {cause!r}")
    _check_int("n", n, 2)
    _check_int("n_cause", n_cause, 1)
    _check_int("half", half, 1)
    _check_int("seed", seed, 0)
    a, b, perm = maps(n_cause, half, seed)
    rng = np.random.default_rng(seed + 1)
    if cause == "gaussian":
        u, v = rng.standard_normal((2, n, n_cause))
    elif cause == "ball":
        g = rng.standard_normal((2, n, n_cause))
        r = rng.uniform(size=(2, n, 1)) ** (1 / n_cause)  # uniform in the unit ball
        u, v = g / np.linalg.norm(g, axis=2, keepdims=True) * r * np.sqrt(n_cause + 2)
    else:
        u, v = rng.uniform(-np.sqrt(3), np.sqrt(3), (2, n, n_cause))
    part_a, part_b = (1 + np.tanh(u @ a)) / 2, (1 + np.tanh(v @ b)) / 2
    if kind == "additive":
        x, p = part_a + part_b, None
    else:
        x = np.concatenate([part_a, part_b], axis=1)
        p = perm if kind == "interleaved" else None
        if p is not None:
            x = x[:, p]
    f32 = lambda arr: np.ascontiguousarray(arr, dtype=np.float32)  # noqa: E731
    return Toy(kind, f32(x), u, v, f32(part_a), f32(part_b), p)
