"""The negative binomial distribution of a week's sales from its mean and variance (Poisson
where the variance is no larger than the mean): quantiles, probabilities and the dispersion of
a title's own weeks. Arrays of any shape, elementwise; scipy.special only, so that a server
computes them without a fitting library."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

TINY = 1e-12


def dispersion(y: np.ndarray) -> float:
    """How much more the weeks vary than Poisson counts with their mean: `(var - mean) /
    mean^2` (0 when they vary less, or never sold), so that a negative binomial with mean mu
    has variance `mu + dispersion * mu^2`."""
    y = np.asarray(y, dtype=np.float64)
    mean = float(y.mean()) if len(y) else 0.0
    if mean <= 0:
        return 0.0
    return max(float(y.var()) - mean, 0.0) / mean**2


def _parameters(mean: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, ...]:
    """Where the negative binomial applies (variance above the mean), its size and success
    probability there, and the mean floored at zero."""
    mu = np.maximum(np.asarray(mean, dtype=np.float64), 0.0)
    v = np.asarray(var, dtype=np.float64)
    over = (mu > 0) & (v > mu * (1.0 + 1e-9))
    v = np.where(over, v, 1.0)
    size = np.where(over, mu * mu / np.where(over, v - mu, 1.0), 1.0)
    return over, size, np.where(over, mu / v, 0.5), mu


def cdf(x: np.ndarray, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
    """P(sales <= x) for whole numbers x (0 below zero)."""
    from scipy import special

    over, size, p, mu = _parameters(mean, var)
    k = np.floor(np.asarray(x, dtype=np.float64))
    safe = np.maximum(k, 0.0)
    out = np.where(over, special.betainc(size, safe + 1.0, p), special.pdtr(safe, mu))
    return np.where(k < 0, 0.0, out)


def quantiles(mean: np.ndarray, var: np.ndarray, taus: Sequence[float]) -> dict[float, np.ndarray]:
    """The `taus` quantiles: for each, the smallest whole number q with P(sales <= q) >= tau."""
    from scipy import special

    over, size, p, mu = _parameters(mean, var)
    out = {}
    for tau in taus:
        guess = np.where(
            over,
            special.nbdtrik(tau, size, p),
            special.pdtrik(tau, np.maximum(mu, TINY)),
        )
        q = np.ceil(np.nan_to_num(guess, nan=0.0) - 1e-9).clip(min=0.0)
        below = np.maximum(q - 1.0, 0.0)  # the inverse is continuous: one count lower may do
        q = np.where((q > 0) & (cdf(below, mean, var) >= tau), below, q)
        out[tau] = np.where(mu > 0, q, 0.0)
    return out


def nearest(mean: np.ndarray, var: np.ndarray, probability: float) -> np.ndarray:
    """The whole number q whose P(sales <= q) is nearest `probability`: the upper bound of
    the one-sided interval [0, q] whose coverage is nearest its level (the `probability`
    quantile, or one count below it)."""
    q = quantiles(mean, var, [probability])[probability]
    below = np.maximum(q - 1.0, 0.0)
    closer = np.abs(cdf(below, mean, var) - probability) < np.abs(cdf(q, mean, var) - probability)
    return np.where((q > 0) & closer, below, q)
