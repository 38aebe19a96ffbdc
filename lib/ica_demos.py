"""Numerical companions to thesis chapter 5 (background on ICA): non-Gaussianity measures,
the simulated-annealing acceptance rule and mutual information of Gaussians in closed form."""

import numpy as np

GAUSS_ENTROPY = 0.5 * np.log(2 * np.pi * np.e)  # differential entropy of N(0, 1), nats

# Unit-variance distributions with closed-form entropies (nats), for negentropy eq. 5.3.
UNIT_VARIANCE = {
    "gaussian": (lambda rng, n: rng.standard_normal(n), GAUSS_ENTROPY),
    "laplace": (lambda rng, n: rng.laplace(scale=1 / np.sqrt(2), size=n), 1 + np.log(2 / np.sqrt(2))),
    "uniform": (lambda rng, n: rng.uniform(-np.sqrt(3), np.sqrt(3), n), np.log(2 * np.sqrt(3))),
}


def kurtosis(x):
    """Eq. 5.2: kurt(x) = E{x^4} - 3 (E{x^2})^2 of the centred sample (0 for a Gaussian)."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(axis=0)
    return np.mean(x**4, axis=0) - 3 * np.mean(x**2, axis=0) ** 2


def negentropy_exact(name):
    """Eq. 5.3: J = H(gaussian) - H(x) for a unit-variance distribution in ``UNIT_VARIANCE``."""
    if name not in UNIT_VARIANCE:
        raise ValueError(f"unknown distribution {name!r}; choose from {sorted(UNIT_VARIANCE)}")
    return GAUSS_ENTROPY - UNIT_VARIANCE[name][1]


def negentropy_logcosh(x, n_ref=200_000, random_state=0):
    """The 'non-polynomial moment' approximation J ~ (E G(y) - E G(nu))^2, G = log cosh, of the
    standardised sample y (section 5.2.2; Hyvarinen's approximation, up to a constant factor)."""
    x = np.asarray(x, dtype=np.float64)
    y = (x - x.mean()) / x.std()
    nu = np.random.default_rng(random_state).standard_normal(n_ref)
    return float((np.mean(np.log(np.cosh(y))) - np.mean(np.log(np.cosh(nu)))) ** 2)


def acceptance(delta, temperature):
    """Eq. 5.9: probability of accepting a move that changes the cost by ``delta``."""
    delta, temperature = np.asarray(delta, float), np.asarray(temperature, float)
    if np.any(temperature <= 0):
        raise ValueError("temperature must be positive")
    return np.minimum(1.0, np.exp(-delta / temperature))


def correlated_gaussians(n, rho, dims=1, random_state=0):
    """x, y of ``dims`` columns each, pair (x_i, y_i) with correlation rho, pairs independent.
    Returns x, y and the true MI -dims/2 log(1 - rho^2) in nats (eq. 5.6 in closed form)."""
    if not -1 < rho < 1:
        raise ValueError(f"rho must lie strictly between -1 and 1, got {rho}")
    rng = np.random.default_rng(random_state)
    x = rng.standard_normal((n, dims))
    y = rho * x + np.sqrt(1 - rho**2) * rng.standard_normal((n, dims))
    return x, y, -dims / 2 * np.log(1 - rho**2)
