"""Seasonal ARIMA from fitted parameters: residual filter, forecasts and their variance.

Pure numpy/scipy, so a bundle forecasts without the library that fitted it. The parameter
conventions are those of R's `arima` (and statsforecast): AR polynomial 1 - phi_1 B - ...,
MA polynomial 1 + theta_1 B + ..., seasonal terms at lag `m`, regression terms subtracted
before differencing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

POLYNOMIALS_KEPT = 4096  # fitted processes whose polynomials are kept (a title's members)


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
    """`x` (or each row of it) differenced `d` times, then `D` times at lag `m`."""
    for _ in range(d):
        x = np.diff(x)
    for _ in range(D):
        x = x[..., m:] - x[..., :-m]
    return x


def residuals(w: np.ndarray, p: ArimaParams) -> np.ndarray:
    """One-step innovations of the differenced series, conditional on zero pre-sample shocks."""
    from scipy.signal import lfilter

    ar, ma, _ = _polynomials(p)
    return lfilter(ar, ma, difference(w, p.d, p.D, p.m))


def psi_weights(p: ArimaParams, horizon: int) -> np.ndarray:
    """MA(infinity) weights of the integrated process: psi_0 = 1, ..., psi_{h-1}."""
    from scipy.signal import lfilter

    _, ma, ar_full = _polynomials(p)
    impulse = np.zeros(horizon)
    impulse[0] = 1.0
    return lfilter(ma, ar_full, impulse)


@lru_cache(maxsize=POLYNOMIALS_KEPT)
def _polynomials(p: ArimaParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The AR polynomial without and with differencing, and the MA polynomial, of a fitted
    process (kept: every forecast of a title needs them; read-only)."""
    out = (ar_polynomial(p, with_differences=False), ma_polynomial(p))
    out += (ar_polynomial(p, with_differences=True),)
    for poly in out:
        poly.setflags(write=False)
    return out[0], out[1], out[2]


@lru_cache(maxsize=POLYNOMIALS_KEPT)
def _standard_errors(p: ArimaParams, horizon: int) -> np.ndarray:
    """Standard errors of the forecasts 1..horizon steps ahead (kept; read-only)."""
    psi = psi_weights(p, horizon)
    se = np.sqrt(p.sigma2 * np.cumsum(psi**2))
    se.setflags(write=False)
    return se


def forecast(w: np.ndarray, p: ArimaParams, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Point forecasts of the regression-adjusted series and their standard errors."""
    e = residuals(w, p)
    _, ma, ar_full = _polynomials(p)
    a = -ar_full[1:]  # w_t = sum a_i w_{t-i} + ...
    b = ma[1:]
    n = len(w)
    if len(a) > n:
        raise ValueError(f"{n} observations cannot start an ARIMA with {len(a)} lags")
    if len(a) <= 1 and len(b) <= 1:  # one lag each at most: a closed form
        return _one_lag_path(w, e, a, b, horizon), _standard_errors(p, horizon)
    from scipy.signal import lfilter, lfiltic

    # The path is the ARMA filter (MA over the full AR polynomial) run on zero shocks ahead,
    # started from the last weeks and their shocks (weeks lost to differencing carry none).
    shocks = np.concatenate([np.zeros(max(len(b) - len(e), 0)), e])
    state = lfiltic(ma, ar_full, w[::-1][: len(a)], shocks[::-1][: len(b)])
    path, _ = lfilter(ma, ar_full, np.zeros(horizon), zi=state)
    return path, _standard_errors(p, horizon)


def _one_lag_path(
    w: np.ndarray, e: np.ndarray, a: np.ndarray, b: np.ndarray, horizon: int
) -> np.ndarray:
    """`forecast`'s path when `a` and `b` have at most one coefficient each, in closed form:
    the first week is a * w[-1] + b * (the last shock), and each later one a times the week
    before (every later shock is ahead: zero)."""
    shock = float(e[-1]) if len(e) else 0.0  # the last week's (none if all differenced away)
    ar = float(a[0]) if len(a) else 0.0
    first = ar * float(w[-1]) + (float(b[0]) * shock if len(b) else 0.0)
    if ar == 0.0:
        path = np.zeros(horizon)
        path[0] = first
        return path
    return first * np.power(ar, np.arange(horizon, dtype=float))


def _padded(rows: Sequence[np.ndarray]) -> np.ndarray:
    """Coefficient arrays of different lengths as one matrix, zeros after each."""
    out = np.zeros((len(rows), max(len(r) for r in rows)))
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def _lag_sum(coefs: np.ndarray, lags: np.ndarray, series: np.ndarray, t: int) -> np.ndarray:
    """sum over `lags` k of coefs[:, k] * series[:, t - k], by row (zero before column 0)."""
    lags = lags[lags <= t]
    return np.sum(coefs[:, lags] * series[:, t - lags], axis=1)


def forecast_panel(
    w: np.ndarray, lengths: np.ndarray, params: Sequence[ArimaParams], horizon: int
) -> tuple[np.ndarray, np.ndarray]:
    """`forecast` of many series at once: row i of `w` holds series i in its last `lengths[i]`
    columns (anything before them is ignored). Returns the titles x horizon means and
    standard errors. The recursions run over columns for every row at once."""
    n_rows, width = w.shape
    ar_full = [ar_polynomial(p, with_differences=True) for p in params]
    for n, poly in zip(lengths.tolist(), ar_full, strict=True):
        if len(poly) - 1 > n:
            raise ValueError(f"{n} observations cannot start an ARIMA with {len(poly) - 1} lags")
    ar = _padded([ar_polynomial(p, with_differences=False) for p in params])
    ma = _padded([ma_polynomial(p) for p in params])
    a = -_padded(ar_full)
    ar_lags, ma_lags = np.flatnonzero(ar.any(axis=0)), np.flatnonzero(ma[:, 1:].any(axis=0)) + 1
    a_lags = np.flatnonzero(a[:, 1:].any(axis=0)) + 1
    # Differencing, by the rows that share their orders; the columns before each series' first
    # difference are zero, as lfilter's zero pre-sample state sees them.
    u = np.zeros_like(w)
    orders: dict[tuple[int, int, int], list[int]] = {}
    for i, p in enumerate(params):
        orders.setdefault((p.d, p.D, p.m), []).append(i)
    for (d, big_d, m), rows in orders.items():
        diffed = difference(w[rows], d, big_d, m)
        u[rows, width - diffed.shape[1] :] = diffed
    lost = np.array([p.d + p.D * p.m for p in params])
    u[np.arange(width) < (width - lengths + lost)[:, None]] = 0.0
    # Residuals: ma(B) e = ar(B) u.
    v = np.zeros_like(u)
    for k in ar_lags.tolist():
        v[:, k:] += ar[:, k : k + 1] * u[:, : width - k]
    e = np.zeros_like(u)
    for t in range(width):
        e[:, t] = v[:, t] - _lag_sum(ma, ma_lags, e, t) if len(ma_lags) else v[:, t]
    # Point forecasts along the horizon from the series and its shocks.
    path = np.concatenate([w, np.zeros((n_rows, horizon))], axis=1)
    shocks = np.concatenate([e, np.zeros((n_rows, horizon))], axis=1)
    for k in range(width, width + horizon):
        path[:, k] = _lag_sum(a, a_lags, path, k) + _lag_sum(ma, ma_lags, shocks, k)
    # psi weights of the integrated process: lfilter(ma, ar_full, impulse).
    psi = np.zeros((n_rows, horizon))
    for j in range(horizon):
        psi[:, j] = (ma[:, j] if j < ma.shape[1] else 0.0) + _lag_sum(a, a_lags, psi, j)
    sigma2 = np.array([p.sigma2 for p in params])
    se = np.sqrt(sigma2[:, None] * np.cumsum(psi**2, axis=1))
    return path[:, width:], se
