"""Seasonal ARIMA from fitted parameters: residual filter, forecasts and their variance.

Pure numpy/scipy, so a bundle forecasts without the library that fitted it. The parameter
conventions are those of R's `arima` (and statsforecast): AR polynomial 1 - phi_1 B - ...,
MA polynomial 1 + theta_1 B + ..., seasonal terms at lag `m`, regression terms subtracted
before differencing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter


@dataclass(frozen=True)
class ArimaParams:
    """A fitted (S)ARIMA process for the regression-adjusted series."""

    ar: tuple[float, ...] = ()
    ma: tuple[float, ...] = ()
    sar: tuple[float, ...] = ()
    sma: tuple[float, ...] = ()
    d: int = 0
    D: int = 0
    m: int = 1
    sigma2: float = 0.0


def _seasonal(coefs: tuple[float, ...], m: int) -> np.ndarray:
    """Coefficients of a polynomial in B^m, laid out in powers of B (constant term excluded)."""
    out = np.zeros(len(coefs) * m)
    for i, c in enumerate(coefs):
        out[(i + 1) * m - 1] = c
    return out


def _mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.convolve(a, b)


def ar_polynomial(p: ArimaParams, *, with_differences: bool) -> np.ndarray:
    """Full AR lag polynomial [1, -a_1, -a_2, ...] (optionally times the differencing)."""
    poly = _mul(np.r_[1.0, -np.asarray(p.ar, float)], np.r_[1.0, -_seasonal(p.sar, p.m)])
    if with_differences:
        for _ in range(p.d):
            poly = _mul(poly, np.array([1.0, -1.0]))
        for _ in range(p.D):
            poly = _mul(poly, np.r_[1.0, np.zeros(p.m - 1), -1.0])
    return poly


def ma_polynomial(p: ArimaParams) -> np.ndarray:
    """Full MA lag polynomial [1, b_1, b_2, ...]."""
    return _mul(np.r_[1.0, np.asarray(p.ma, float)], np.r_[1.0, _seasonal(p.sma, p.m)])


def _roots_outside_unit_circle(poly: np.ndarray) -> bool:
    """True when every root of the lag polynomial poly[0] + poly[1] B + ... has |B| > 1."""
    trimmed = np.trim_zeros(poly, "b")
    return len(trimmed) <= 1 or bool(np.all(np.abs(np.roots(trimmed[::-1])) > 1.0 + 1e-6))


def is_stationary_and_invertible(p: ArimaParams) -> bool:
    """AR roots (stationarity) and MA roots (invertibility, so residuals can be filtered)."""
    return all(
        _roots_outside_unit_circle(poly)
        for poly in (
            np.r_[1.0, -np.asarray(p.ar, float)],
            np.r_[1.0, -np.asarray(p.sar, float)],
            np.r_[1.0, np.asarray(p.ma, float)],
            np.r_[1.0, np.asarray(p.sma, float)],
        )
    )


def difference(x: np.ndarray, d: int, D: int, m: int) -> np.ndarray:
    for _ in range(d):
        x = np.diff(x)
    for _ in range(D):
        x = x[m:] - x[:-m]
    return x


def residuals(w: np.ndarray, p: ArimaParams) -> np.ndarray:
    """One-step innovations of the differenced series, conditional on zero pre-sample shocks."""
    u = difference(w, p.d, p.D, p.m)
    return lfilter(ar_polynomial(p, with_differences=False), ma_polynomial(p), u)


def psi_weights(p: ArimaParams, horizon: int) -> np.ndarray:
    """MA(infinity) weights of the integrated process: psi_0 = 1, ..., psi_{h-1}."""
    impulse = np.zeros(horizon)
    impulse[0] = 1.0
    return lfilter(ma_polynomial(p), ar_polynomial(p, with_differences=True), impulse)


def forecast(w: np.ndarray, p: ArimaParams, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Point forecasts of the regression-adjusted series and their standard errors."""
    e = residuals(w, p)
    a = -ar_polynomial(p, with_differences=True)[1:]  # w_t = sum a_i w_{t-i} + ...
    b = ma_polynomial(p)[1:]
    n = len(w)
    if len(a) > n:
        raise ValueError(f"{n} observations cannot start an ARIMA with {len(a)} lags")
    # Innovations aligned with w; weeks lost to differencing carry no shock.
    shocks = np.r_[np.zeros(n - len(e)), e, np.zeros(horizon)]
    path = np.r_[w, np.zeros(horizon)]
    for k in range(n, n + horizon):
        ar_part = np.dot(a, path[k - len(a) : k][::-1]) if len(a) else 0.0
        ma_part = np.dot(b, shocks[k - len(b) : k][::-1]) if len(b) else 0.0
        path[k] = ar_part + ma_part
    psi = psi_weights(p, horizon)
    se = np.sqrt(p.sigma2 * np.cumsum(psi**2))
    return path[n:], se
