"""Predictive customer lifetime value with buy-till-you-die models.

Two models, both fitted by maximum likelihood, pure numpy/scipy (no Dagster, no pandas):

* **BG/NBD** (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way"): while alive a
  customer buys at a Poisson rate lambda ~ Gamma(r, alpha); after every purchase they drop out
  with probability p ~ Beta(a, b). Input per customer: ``x`` repeat purchase days (distinct
  purchase days - 1), ``t_x`` time of the last purchase since the first one, ``T`` time from the
  first purchase to the as-of day, all in one ``time_unit`` ('day' or 'week'). ``alpha`` carries
  that unit (alpha in days = 7 x alpha in weeks); r, a, b are unit-free.
* **Gamma-Gamma** (Fader & Hardie 2013, "The Gamma-Gamma Model of Monetary Value"): the mean
  spend ``m`` of a customer's ``x`` repeat purchase days is modelled with p, q, gamma; it is fitted
  on customers with x > 0 only, as the contract (``marts.clv_model_params``) requires.

Definitions follow /work/shared/CONTRACT.md: one transaction per customer and day, frequency =
distinct purchase days - 1, T = days from the first purchase day to the as-of day (the snapshot
month's last day), t_x = days from the first to the last purchase day. ``rfm_summary`` computes
exactly these from a polars frame of purchases.

This is a product, not a notebook, so every public function returns finite numbers for every
input (T = 0, x = 0, huge x, non-finite garbage). When a model cannot be trusted - too few
customers, no repeat buyers, the optimiser did not converge, q <= 1 - the fit says so
(``converged``, ``message``, ``fallback``) and the predictions use a documented empirical rule:

* BG/NBD fallback ``'empirical_rate'``: a customer's purchase rate is their historical rate over
  tenure shrunk towards the population rate, ``rate_i = (x_i + k * rate_pop) / (T_i + k)`` with
  ``rate_pop = sum(x) / sum(T)`` and ``k`` = the mean tenure (the population counts as much as one
  average customer's history); ``p_alive_i = exp(-rate_i * (T_i - t_x_i))``, the chance that a
  customer buying at that rate (one purchase per mean inter-purchase time ``1/rate_i``) would have
  gone this long without buying; ``E[X(t)] = p_alive_i * rate_i * t``.
* Gamma-Gamma fallback ``'shrunk_mean'``: a customer's expected spend per purchase day is their
  mean repeat spend shrunk to the population mean, ``(x_i * m_i + k * m_pop) / (x_i + k)`` with
  ``k = 1`` pseudo purchase and ``m_pop`` = the mean spend over all repeat purchase days
  (``sum(x * m) / sum(x)``), or the caller's ``fallback_mean_spend`` when nobody bought twice.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Literal, ParamSpec, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize
from scipy.special import expit, gammaln, hyp2f1, psi
from threadpoolctl import threadpool_limits

P = ParamSpec("P")
R = TypeVar("R")

if TYPE_CHECKING:  # polars is only needed by rfm_summary; keep the model code import-light.
    import polars as pl

TimeUnit = Literal["day", "week"]
FloatArray = NDArray[np.float64]

DAYS_PER_UNIT: dict[str, float] = {"day": 1.0, "week": 7.0}
# Calendar-average month, so a 12-month horizon is exactly one year (365.25 days).
DAYS_PER_MONTH = 365.25 / 12.0

# Below this many customers ML estimates of four (three) parameters are noise, not a model.
MIN_CUSTOMERS = 30
# Search box for the log-parameters (time rescaled to mean tenure = 1, money to mean spend = 1):
# e^±15 is far beyond any sensible estimate; an estimate on the edge means the likelihood is flat
# in that direction (e.g. b -> infinity: nobody ever drops out), which the message reports.
LOG_BOUND = 15.0
# Convergence criterion: largest |gradient| of the *mean* log-likelihood w.r.t. log-parameters.
GRAD_TOL = 1e-4
GG_FALLBACK_PSEUDO_PURCHASES = 1.0
# A BG/NBD design with more distinct rows than twice this is first fitted on a systematic sample
# of about this many rows; Newton steps on all rows, with the sample's Hessian, finish the fit.
# At a million customers (604k distinct rows) L-BFGS-B from the usual start took 45 evaluations
# on all rows (0.56 s); the sample fit and 4-6 Newton steps take ~0.15 s, to the same estimates
# within 1e-7 (relative).
SAMPLE_ROWS = 50_000
# The Newton steps stop at this largest |gradient| (mean log-likelihood, log-parameters), as
# close as L-BFGS-B's own stopping rule (ftol 1e-14) gets, or when rounding stops progress.
NEWTON_GTOL = 1e-9
NEWTON_MAX_STEPS = 25


# --------------------------------------------------------------------------------------------
# Result types
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BgNbdFit:
    """A BG/NBD fit. ``r, alpha, a, b`` are the ML estimates (None when no fit was attempted or
    the optimiser returned nothing finite); ``log_likelihood`` is at those estimates, in
    ``time_unit`` (it differs between units by a constant, sum(x) * ln 7).

    When ``fallback`` is not None the predictions ignore ``r, alpha, a, b`` and use the empirical
    rule described in the module docstring with ``fallback_rate`` (population repeat purchases
    per time unit) and ``fallback_prior_time`` (shrinkage strength k, in time units); both are
    always computed so that single non-finite model predictions can be replaced too.
    """

    r: float | None
    alpha: float | None
    a: float | None
    b: float | None
    time_unit: str
    log_likelihood: float | None
    customers_fitted: int
    converged: bool
    message: str
    fallback: str | None
    fallback_rate: float
    fallback_prior_time: float

    @property
    def params(self) -> tuple[float, float, float, float] | None:
        if self.r is None or self.alpha is None or self.a is None or self.b is None:
            return None
        return (self.r, self.alpha, self.a, self.b)

    @property
    def uses_model(self) -> bool:
        return self.fallback is None and self.params is not None


@dataclass(frozen=True)
class GammaGammaFit:
    """A Gamma-Gamma fit on customers with x > 0 (``customers_fitted`` of them).

    ``population_mean`` is the spend per purchase day assumed for customers without repeat
    purchases: p * gamma / (q - 1) when the model is used, ``sum(x*m)/sum(x)`` under the
    ``'shrunk_mean'`` fallback (see the module docstring).
    """

    p: float | None
    q: float | None
    gamma: float | None
    log_likelihood: float | None
    customers_fitted: int
    converged: bool
    message: str
    fallback: str | None
    population_mean: float
    fallback_pseudo_purchases: float = GG_FALLBACK_PSEUDO_PURCHASES

    @property
    def params(self) -> tuple[float, float, float] | None:
        if self.p is None or self.q is None or self.gamma is None:
            return None
        return (self.p, self.q, self.gamma)

    @property
    def uses_model(self) -> bool:
        return self.fallback is None and self.params is not None


@dataclass(frozen=True)
class ClvPrediction:
    """Per-customer predictions over a horizon (arrays aligned with the inputs, all finite).

    ``expected_orders`` counts expected purchase *days* (the models' unit of a transaction).
    """

    expected_orders: FloatArray
    p_alive: FloatArray
    expected_spend: FloatArray
    clv: FloatArray


# --------------------------------------------------------------------------------------------
# Input hygiene
# --------------------------------------------------------------------------------------------
def _as_float(values: ArrayLike) -> FloatArray:
    return np.atleast_1d(np.asarray(values, dtype=np.float64))


def _clean_rft(
    x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Make (x, t_x, T) usable whatever comes in: non-finite or negative values become 0,
    t_x is clipped into [0, T], and x > 0 with t_x = 0 is allowed (a zero-length history)."""
    x_arr, tx_arr, T_arr = np.broadcast_arrays(_as_float(x), _as_float(t_x), _as_float(T))
    x_c, tx_c, T_c = (_non_negative(v) for v in (x_arr, tx_arr, T_arr))
    return x_c, tx_c if np.all(tx_c <= T_c) else np.minimum(tx_c, T_c), T_c


def _non_negative(values: FloatArray) -> FloatArray:
    """``values`` with non-finite and negative entries set to 0. Clean input, the usual case,
    is returned as it is: a million-row copy costs more than the check, most of it in first
    touches of fresh memory. Callers never write into the result."""
    if values.size and values.min() >= 0.0 and np.isfinite(values.max()):
        return values
    return np.where(np.isfinite(values) & (values > 0), values, 0.0)


def _check_unit(time_unit: str) -> None:
    if time_unit not in DAYS_PER_UNIT:
        raise ValueError(f"time_unit must be 'day' or 'week', not {time_unit!r}")


# --------------------------------------------------------------------------------------------
# BG/NBD likelihood
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Design:
    """(x, t_x, T) rows, each column factorised into its distinct values and an index.

    Special functions of x and the logarithms of alpha + T and alpha + t_x are then evaluated
    once per distinct value (a few hundred with day-granular data) instead of once per row;
    only the two-term mixture is computed per row. ``weights`` count customers per row."""

    x_values: FloatArray
    x_index: NDArray[np.intp]
    T_values: FloatArray
    T_index: NDArray[np.intp]
    tx_values: FloatArray
    tx_index: NDArray[np.intp]
    weights: FloatArray
    x_weights: FloatArray  # total weight per distinct x
    T_weights: FloatArray  # total weight per distinct T
    T_xweights: FloatArray  # total weight * x per distinct T

    @classmethod
    def of(
        cls,
        x_values: FloatArray,
        x_index: NDArray[np.intp],
        T_values: FloatArray,
        T_index: NDArray[np.intp],
        tx_values: FloatArray,
        tx_index: NDArray[np.intp],
        weights: FloatArray,
    ) -> _Design:
        """A design from factorised rows; the per-value weight totals are derived here."""
        return cls(
            x_values,
            x_index,
            T_values,
            T_index,
            tx_values,
            tx_index,
            weights,
            np.bincount(x_index, weights=weights, minlength=x_values.size),
            np.bincount(T_index, weights=weights, minlength=T_values.size),
            np.bincount(T_index, weights=weights * x_values[x_index], minlength=T_values.size),
        )

    @property
    def rows(self) -> int:
        return int(self.weights.size)

    def scaled(self, scale: float) -> _Design:
        return replace(self, T_values=self.T_values / scale, tx_values=self.tx_values / scale)

    def sample(self, rows: int) -> _Design:
        """Every k-th row, about ``rows`` of them, weighted up to the whole design's total
        weight so that its mean log-likelihood estimates the whole's. Grouped rows are in
        (x, T, t_x) order, so a systematic sample spans every part of the data."""
        every = slice(0, None, max(1, math.ceil(self.rows / rows)))
        w = self.weights[every]
        w = w * (self.weights.sum() / w.sum())
        return _Design.of(
            self.x_values,
            self.x_index[every],
            self.T_values,
            self.T_index[every],
            self.tx_values,
            self.tx_index[every],
            w,
        )


# Largest integer code the counting factorisation allocates for (one byte per code).
_DENSE_CODES_MAX = 10**7


def _factorise(values: FloatArray, grid: float) -> tuple[FloatArray, NDArray[np.intp]]:
    """The distinct values, ascending, and each value's position among them.

    Values on a grid of 1/``grid`` (purchase days in days or weeks, counts of days) are counted
    on that integer grid in linear time; anything else is sorted. At a million customers the
    three sorts took 0.3-0.4 s, more than the whole optimisation. Exact: a value takes the fast
    path only if it is reproduced bit for bit by its grid code."""
    if values.size:
        # In place where possible: at a million rows each fresh array costs a few ms of page
        # faults, more than the arithmetic.
        codes = np.multiply(values, grid)
        np.rint(codes, out=codes)
        top = float(codes.max())
        on_grid = codes.min() >= 0.0 and top <= _DENSE_CODES_MAX
        if on_grid:
            int_codes = codes.astype(np.intp)
            on_grid = np.array_equal(np.divide(codes, grid, out=codes), values)
        if on_grid:
            present = np.zeros(int(top) + 1, dtype=bool)
            present[int_codes] = True
            position = np.cumsum(present, dtype=np.intp) - 1
            return np.flatnonzero(present) / grid, position[int_codes]
    # +0.0 turns -0.0 into 0.0 so equal values are one distinct value (the grid path already
    # codes both as 0).
    distinct, inverse = np.unique(values + 0.0, return_inverse=True)
    return distinct, inverse.ravel()


def _design(
    x: FloatArray,
    t_x: FloatArray,
    T: FloatArray,
    weights: FloatArray,
    group: bool,
    time_grid: float = 1.0,
) -> _Design:
    """Factorise the columns and, with ``group``, collapse identical (x, t_x, T) rows into one
    row whose weight is the number of customers: with day-granular data a million customers
    have only a few hundred thousand distinct triples, so the likelihood is evaluated per triple.
    ``time_grid``: time values are usually whole days, i.e. multiples of 1/``time_grid`` units
    (7 in weeks), which makes the factorisation linear (any value is still exact)."""
    ux, ix = _factorise(x, 1.0)
    uT, iT = _factorise(T, time_grid)
    utx, itx = _factorise(t_x, time_grid)
    w = weights
    if group and x.size:
        n_T, n_tx = uT.size, utx.size
        n_keys = ux.size * n_T * n_tx
        if n_keys < 2**62:
            # One integer key per row, ordered as (x, T, t_x): a 1-D sort, much faster than
            # unique(axis=0); each distinct key decodes back into its three indices. 32-bit
            # keys where they fit (the usual case): sorting them takes half as long (30 against
            # 62 ms at 1M rows). Built in place, as fresh million-row arrays cost page faults.
            key = ix.astype(np.int32 if n_keys < 2**31 else np.int64)
            key *= n_T
            np.add(key, iT, out=key, casting="unsafe")
            key *= n_tx
            np.add(key, itx, out=key, casting="unsafe")
            # The usual case, every weight 1: a plain sort counts them (51 ms at 1M rows,
            # against 85 ms for unique with inverse and bincount).
            if np.all(w == 1.0):
                key.sort()
                starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
                distinct = key[starts]
                w = np.diff(np.r_[starts, key.size]).astype(np.float64)
            else:
                distinct, inverse = np.unique(key, return_inverse=True)
                w = np.bincount(inverse.ravel(), weights=w, minlength=distinct.size)
            ix, rest = np.divmod(distinct.astype(np.intp), n_T * n_tx)
            iT, itx = np.divmod(rest, n_tx)
        else:  # astronomically many distinct values: fall back to row-wise unique
            stacked = np.column_stack([ix, iT, itx])
            _, first, inverse = np.unique(stacked, axis=0, return_index=True, return_inverse=True)
            w = np.bincount(inverse.ravel(), weights=w, minlength=first.size)
            ix, iT, itx = ix[first], iT[first], itx[first]
    keep = w > 0
    ix, iT, itx, w = ix[keep], iT[keep], itx[keep], np.asarray(w[keep], dtype=np.float64)
    return _Design.of(ux, ix, uT, iT, utx, itx, w)


def _bg_nbd_ll(
    params: Sequence[float], d: _Design, with_grad: bool
) -> tuple[float, FloatArray | None]:
    """Weighted total BG/NBD log-likelihood (FHL 2005, eq. 6) and, optionally, its gradient
    w.r.t. the *log*-parameters, which is what the optimiser works on.

    LL_i = ln A1 + ln A2 + ln(A3 + [x > 0] A4) with
    ln A1 = lnG(r+x) - lnG(r) + r ln(alpha), ln A2 = lnG(a+b) + lnG(b+x) - lnG(b) - lnG(a+b+x),
    ln A3 = -(r+x) ln(alpha+T), ln A4 = ln(a) - ln(b+x-1) - (r+x) ln(alpha+t_x).
    Written as ln(A3 + A4) = ln A3 + softplus(delta), delta = ln A4 - ln A3, so that everything
    but softplus(delta) is a sum over distinct x or distinct T values (weights pre-aggregated)
    and the per-row work is a handful of vector operations.
    """
    r, alpha, a, b = (float(v) for v in params)
    ux, wx = d.x_values, d.x_weights
    repeat = ux > 0
    # Per distinct x: everything that does not involve t_x or T.
    ln_a12 = (
        gammaln(r + ux)
        - gammaln(r)
        + r * math.log(alpha)
        + gammaln(a + b)
        + gammaln(b + ux)
        - gammaln(b)
        - gammaln(a + b + ux)
    )
    # The A4 term only exists for x > 0; b + x - 1 may be <= 0 at x = 0, so the logarithm is
    # taken of a dummy there and the term masked to -inf (softplus(-inf) = 0).
    b_x1 = np.where(repeat, b + ux - 1.0, 1.0)
    c4 = np.where(repeat, math.log(a) - np.log(b_x1), -np.inf)
    ln_alpha_T = np.log(alpha + d.T_values)
    ln_alpha_tx = np.log(alpha + d.tx_values)
    # sum_i w_i ln A3_i = -sum over distinct T of (r * sum w + sum w x) ln(alpha + T)
    ln_a3_total = -np.dot(r * d.T_weights + d.T_xweights, ln_alpha_T)
    # Per row: delta = ln A4 - ln A3 and a stable
    # softplus(delta) = max(delta, 0) + log1p(e^-|delta|).
    rx = (r + ux)[d.x_index]
    gap = ln_alpha_tx[d.tx_index] - ln_alpha_T[d.T_index]  # <= 0 since t_x <= T
    delta = c4[d.x_index] - rx * gap
    e = np.exp(-np.abs(delta))
    softplus = np.maximum(delta, 0.0) + np.log1p(e)
    w = d.weights
    total = float(np.dot(wx, ln_a12) + ln_a3_total + np.dot(w, softplus))
    if not with_grad:
        return total, None
    # Weighted share of the A4 term in A3 + A4: s4 = w * sigmoid(delta) (0 for x = 0).
    s4 = w * np.where(delta >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    inv_T = 1.0 / (alpha + d.T_values)
    psi_ab, psi_abx = psi(a + b), psi(a + b + ux)
    d_r = (
        np.dot(wx, psi(r + ux) - psi(r) + math.log(alpha))
        - np.dot(d.T_weights, ln_alpha_T)
        - np.dot(s4, gap)
    )
    d_alpha = (
        wx.sum() * r / alpha
        - np.dot(r * d.T_weights + d.T_xweights, inv_T)
        - np.dot(s4 * rx, (1.0 / (alpha + d.tx_values))[d.tx_index] - inv_T[d.T_index])
    )
    d_a = np.dot(wx, psi_ab - psi_abx) + s4.sum() / a
    d_b = np.dot(wx, psi_ab + psi(b + ux) - psi(b) - psi_abx) - np.dot(s4, (1.0 / b_x1)[d.x_index])
    # d/d(log theta) = theta * d/d(theta)
    grad = np.array([r * d_r, alpha * d_alpha, a * d_a, b * d_b], dtype=np.float64)
    return total, grad


def _clean_weights(weights: ArrayLike | None, shape: tuple[int, ...]) -> FloatArray:
    if weights is None:
        return np.ones(shape, dtype=np.float64)
    w = np.broadcast_to(_as_float(weights), shape)
    return np.where(np.isfinite(w) & (w > 0), w, 0.0)


def bg_nbd_log_likelihood(
    params: Sequence[float],
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    weights: ArrayLike | None = None,
) -> float:
    """Total BG/NBD log-likelihood of (r, alpha, a, b); ``weights`` count identical rows."""
    x_c, tx_c, T_c = _clean_rft(x, t_x, T)
    design = _design(x_c, tx_c, T_c, _clean_weights(weights, x_c.shape), group=False)
    return _bg_nbd_ll(params, design, with_grad=False)[0]


def group_customers(
    x: ArrayLike, t_x: ArrayLike, T: ArrayLike, weights: ArrayLike | None = None
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Collapse identical (x, t_x, T) rows: returns the distinct (x, t_x, T) and their counts
    (summed ``weights``), the form in which ``fit_bg_nbd`` evaluates the likelihood."""
    x_c, tx_c, T_c = _clean_rft(x, t_x, T)
    d = _design(x_c, tx_c, T_c, _clean_weights(weights, x_c.shape), group=True)
    return d.x_values[d.x_index], d.tx_values[d.tx_index], d.T_values[d.T_index], d.weights


def _single_threaded_blas(fit: Callable[P, R]) -> Callable[P, R]:
    """Run a fit with one BLAS thread. Its dot products are short (one element per distinct
    row); OpenBLAS threads them anyway and loses more to the hand-off than it gains: BG/NBD on
    75k distinct rows took 0.41 s threaded and 0.11 s single-threaded on 2 cores."""

    @functools.wraps(fit)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with threadpool_limits(limits=1, user_api="blas"):
            return fit(*args, **kwargs)

    return wrapper


Objective = Callable[[FloatArray], tuple[float, FloatArray]]
D = TypeVar("D")
Optimum = tuple[FloatArray | None, float, float, str]


def _mean_nll_objective(
    log_likelihood: Callable[[Sequence[float], D, bool], tuple[float, FloatArray | None]],
    data: D,
    total_weight: float,
) -> Objective:
    """What the optimiser minimises: the mean negative log-likelihood of ``data`` and its
    gradient, both w.r.t. the log-parameters. A non-finite value becomes a wall (1e300) that
    the line search backs off from."""

    def objective(log_params: FloatArray) -> tuple[float, FloatArray]:
        with np.errstate(all="ignore"):
            ll, grad = log_likelihood(np.exp(log_params), data, True)
            assert grad is not None
            value, gradient = -ll / total_weight, -grad / total_weight
        if not np.isfinite(value):
            return 1e300, np.zeros_like(log_params)
        return value, np.nan_to_num(gradient, nan=0.0, posinf=0.0, neginf=0.0)

    return objective


def _free_gmax(log_params: FloatArray, grad: FloatArray) -> float:
    """Largest |gradient| where the estimate is not pinned to the search box (only there does
    the gradient have to vanish)."""
    free = np.abs(np.abs(log_params) - LOG_BOUND) > 1e-6
    return float(np.max(np.abs(grad[free]))) if free.any() else 0.0


def _hessian(objective: Objective, at: FloatArray, step: float = 1e-5) -> FloatArray:
    """Hessian by central differences of the analytic gradient, symmetrised."""
    columns = []
    for i in range(at.size):
        shift = np.zeros_like(at)
        shift[i] = step
        columns.append((objective(at + shift)[1] - objective(at - shift)[1]) / (2.0 * step))
    hessian = np.column_stack(columns)
    return (hessian + hessian.T) / 2.0


def _newton(objective: Objective, start: FloatArray, hessian: FloatArray) -> Optimum:
    """Newton steps from a point near the optimum with an approximate Hessian, which BFGS
    updates from every step; a backtracking line search keeps each step a descent. Returns the
    last point with its largest |gradient|; the caller decides whether that is converged.

    Near the optimum the decrease a step promises is below the rounding of the objective, so a
    step may keep the value within a few ulps: that is progress, judged by the gradient."""
    log_params = start.copy()
    value, grad = objective(log_params)
    noise = 8.0 * np.finfo(np.float64).eps * max(abs(value), 1.0)
    for step_no in range(NEWTON_MAX_STEPS):
        gmax = _free_gmax(log_params, grad)
        if not np.isfinite(value) or value >= 1e300:
            return None, math.inf, math.inf, "Newton: non-finite objective"
        if gmax < NEWTON_GTOL:
            return log_params, value, gmax, f"{step_no} Newton steps"
        try:
            direction = -np.linalg.solve(hessian, grad)
        except np.linalg.LinAlgError:
            return log_params, value, gmax, "Newton: singular Hessian"
        slope = float(grad @ direction)
        if not slope < 0:
            return log_params, value, gmax, "Newton: no descent direction"
        length = 1.0
        while True:
            trial = log_params + length * direction
            if np.all(np.abs(trial) < LOG_BOUND):
                trial_value, trial_grad = objective(trial)
                if trial_value <= value + 1e-4 * length * slope + noise:
                    break
            length /= 2.0
            if length < 1e-4:
                return log_params, value, gmax, f"Newton: line search failed after {step_no} steps"
        s, y = trial - log_params, trial_grad - grad
        if y @ s > 0:  # BFGS update of the Hessian; skipped where curvature is not positive
            hs = hessian @ s
            hessian = hessian - np.outer(hs, hs) / (s @ hs) + np.outer(y, y) / (y @ s)
        log_params, value, grad = trial, trial_value, trial_grad
    return log_params, value, _free_gmax(log_params, grad), "Newton: step limit"


def _optimise(
    objective: Objective,
    starts: Sequence[Sequence[float]],
    sample_objective: Objective | None = None,
) -> Optimum:
    """L-BFGS-B on log-parameters; returns (log_params, value, max |gradient|, message).

    ``objective`` maps log-parameters to (mean negative log-likelihood, its gradient).

    Further starts are tried only when a run ends without a vanishing gradient (the BG/NBD
    surface has a flat ridge, a and b large together, where a run can stall); the best run wins.

    With ``sample_objective`` (the same likelihood on a sample of the rows) the starts are run
    on the sample instead, and Newton steps with the sample's Hessian take its optimum to the
    whole's; only if they do not converge does L-BFGS-B run on all rows, from where they got to.
    """
    if sample_objective is not None:
        sample_params, _, _, sample_message = _optimise(sample_objective, starts)
        if sample_params is not None:
            hessian = _hessian(sample_objective, sample_params)
            result = _newton(objective, sample_params, hessian)
            if result[0] is not None and result[2] < GRAD_TOL:
                message = f"{sample_message} on a sample of the rows, then {result[3]} on all"
                return result[0], result[1], result[2], message
            if result[0] is not None:
                starts = [tuple(result[0]), *starts]
    best: Optimum = (None, math.inf, math.inf, "no start")
    dim = len(starts[0])
    bounds = [(-LOG_BOUND, LOG_BOUND)] * dim
    for start in starts:
        try:
            res = minimize(
                objective,
                np.asarray(start, dtype=np.float64),
                jac=True,
                method="L-BFGS-B",
                bounds=bounds,
                options={"maxiter": 2000, "ftol": 1e-14, "gtol": 1e-9, "maxcor": 20},
            )
        except (ValueError, FloatingPointError, ArithmeticError) as exc:
            best = best if best[0] is not None else (None, math.inf, math.inf, str(exc))
            continue
        value, grad = objective(res.x)
        if not np.isfinite(value) or value >= 1e300 or not np.all(np.isfinite(grad)):
            continue
        gmax = _free_gmax(res.x, grad)
        if value < best[1] - 1e-12 or (best[0] is not None and gmax < best[2] and value <= best[1]):
            best = (res.x.copy(), float(value), gmax, f"L-BFGS-B: {res.message.strip(' :')}")
        if best[2] < GRAD_TOL:
            break
    return best


@_single_threaded_blas
def fit_bg_nbd(
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    time_unit: TimeUnit = "week",
    *,
    weights: ArrayLike | None = None,
    group: bool = True,
    min_customers: int = MIN_CUSTOMERS,
) -> BgNbdFit:
    """Fit BG/NBD (r, alpha, a, b) by maximum likelihood.

    ``x`` repeat purchase days, ``t_x`` and ``T`` in ``time_unit``; ``weights`` (optional)
    count customers per row. Identical (x, t_x, T) rows are grouped (``group=True``) so the cost
    depends on the number of distinct triples, not on the number of customers. The optimiser is
    L-BFGS-B on log-parameters with the analytic gradient, time rescaled so that the mean tenure
    is 1 (alpha is scaled back).

    Falls back to ``'empirical_rate'`` (see module docstring) when there are fewer than
    ``min_customers`` customers, no repeat buyers, no tenure at all, or when the optimiser does
    not reach a point with vanishing gradient; ``converged`` and ``message`` say why.
    """
    _check_unit(time_unit)
    x_c, tx_c, T_c = _clean_rft(x, t_x, T)
    w = _clean_weights(weights, x_c.shape)
    total_w = float(w.sum())
    n_customers = int(round(total_w))

    # The empirical rule is computed always: it is the fallback, and it replaces single
    # non-finite model predictions.
    total_T = float(np.dot(w, T_c))
    total_x = float(np.dot(w, x_c))
    rate_pop = total_x / total_T if total_T > 0 else 0.0
    prior_time = total_T / total_w if total_T > 0 and total_w > 0 else 1.0

    def result(
        params: tuple[float, float, float, float] | None,
        ll: float | None,
        converged: bool,
        message: str,
    ) -> BgNbdFit:
        r, alpha, a, b = params if params is not None else (None, None, None, None)
        return BgNbdFit(
            r=r,
            alpha=alpha,
            a=a,
            b=b,
            time_unit=time_unit,
            log_likelihood=ll,
            customers_fitted=n_customers,
            converged=converged,
            message=message,
            fallback=None if converged else "empirical_rate",
            fallback_rate=rate_pop,
            fallback_prior_time=prior_time,
        )

    if n_customers < min_customers:
        return result(
            None, None, False, f"too few customers to fit: {n_customers} < {min_customers}"
        )
    if total_x <= 0:
        return result(None, None, False, "no repeat purchases: BG/NBD is not identifiable")
    if total_T <= 0:
        return result(None, None, False, "no customer has any tenure (T = 0 for all)")

    design = _design(x_c, tx_c, T_c, w, group=group, time_grid=DAYS_PER_UNIT[time_unit])
    # Rescale time so that the optimiser sees parameters of order 1 whatever the unit.
    scale = prior_time
    scaled = design.scaled(scale)

    def objective_on(d: _Design) -> Objective:
        return _mean_nll_objective(_bg_nbd_ll, d, total_w)

    sample = scaled.sample(SAMPLE_ROWS) if scaled.rows > 2 * SAMPLE_ROWS else None
    mean_rate_scaled = max(rate_pop * scale, 1e-6)
    starts = [
        (0.0, 0.0, 0.0, 0.0),
        (0.0, -math.log(mean_rate_scaled), 0.0, math.log(3.0)),
        (math.log(0.5), math.log(0.5 / mean_rate_scaled), math.log(0.5), math.log(5.0)),
    ]
    log_params, _value, gmax, opt_message = _optimise(
        objective_on(scaled), starts, objective_on(sample) if sample is not None else None
    )
    if log_params is None:
        return result(None, None, False, f"optimiser failed: {opt_message}")

    r, alpha_s, a, b = (float(v) for v in np.exp(log_params))
    params = (r, alpha_s * scale, a, b)
    with np.errstate(all="ignore"):
        ll_total = _bg_nbd_ll(params, design, with_grad=False)[0]
    if not (np.isfinite(ll_total) and all(np.isfinite(params))):
        return result(None, None, False, "optimiser returned non-finite estimates")
    at_bound = [
        name
        for name, lp in zip(("r", "alpha", "a", "b"), log_params, strict=True)
        if abs(abs(lp) - LOG_BOUND) <= 1e-6
    ]
    converged = gmax < GRAD_TOL
    message = "converged" if converged else f"not converged (max |gradient| {gmax:.2g})"
    message += f" ({opt_message}); {design.rows} distinct (x, t_x, T) rows"
    if sample is not None:
        message += f", a sample of {sample.rows} of them fitted first"
    if at_bound:
        message += f"; at the search bound: {', '.join(at_bound)} (flat likelihood)"
    return result(params, ll_total, converged, message)


# --------------------------------------------------------------------------------------------
# BG/NBD predictions
# --------------------------------------------------------------------------------------------
def _fallback_rate(fit: BgNbdFit, x: FloatArray, T: FloatArray) -> FloatArray:
    """Historical purchase rate over tenure shrunk to the population rate (a Gamma-Poisson
    posterior mean with prior weight of ``fallback_prior_time`` time units)."""
    k = fit.fallback_prior_time
    return (x + k * fit.fallback_rate) / (T + k)


def _fallback_p_alive(fit: BgNbdFit, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
    # Recency measured in the customer's own mean inter-purchase time 1/rate_i.
    return np.exp(-_fallback_rate(fit, x, T) * (T - t_x))


def _resolve_bg(
    params: BgNbdFit | Sequence[float],
) -> tuple[BgNbdFit | None, tuple[float, float, float, float] | None]:
    """(fit, model parameters or None for the fallback) from a fit or raw (r, alpha, a, b)."""
    if isinstance(params, BgNbdFit):
        return params, params.params if params.uses_model else None
    r, alpha, a, b = (float(v) for v in params)
    if not all(np.isfinite(v) and v > 0 for v in (r, alpha, a, b)):
        raise ValueError(f"BG/NBD parameters must be positive and finite, got {params!r}")
    return None, (r, alpha, a, b)


def _model_p_alive(
    params: tuple[float, float, float, float], x: FloatArray, t_x: FloatArray, T: FloatArray
) -> FloatArray:
    r, alpha, a, b = params
    repeat = x > 0
    b_x1 = np.where(repeat, b + x - 1.0, 1.0)
    # P(alive) = 1 / (1 + a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x)), in log space: the power
    # overflows for huge x.
    log_odds_dead = math.log(a) - np.log(b_x1) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return np.where(repeat, expit(-log_odds_dead), 1.0)


def p_alive(
    params: BgNbdFit | Sequence[float], x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> FloatArray:
    """P(customer still alive at T | x, t_x, T) (FHL 2005, eq. 13); 1 for x = 0 by the model's
    assumption that dropout only happens right after a purchase.

    ``params`` is a ``BgNbdFit`` (its fallback is honoured) or raw (r, alpha, a, b). Under the
    ``'empirical_rate'`` fallback: ``exp(-rate_i * (T - t_x))`` (module docstring). Always in
    [0, 1]."""
    x_c, tx_c, T_c = _clean_rft(x, t_x, T)
    fit, model_params = _resolve_bg(params)
    with np.errstate(all="ignore"):
        if model_params is None:
            assert fit is not None
            out = _fallback_p_alive(fit, x_c, tx_c, T_c)
        else:
            out = _model_p_alive(model_params, x_c, tx_c, T_c)
            bad = ~np.isfinite(out)
            if bad.any() and fit is not None:
                out = np.where(bad, _fallback_p_alive(fit, x_c, tx_c, T_c), out)
    return np.clip(np.nan_to_num(out, nan=1.0, posinf=1.0, neginf=0.0), 0.0, 1.0)


def _model_expected_if_alive(
    params: tuple[float, float, float, float], t: FloatArray, x: FloatArray, T: FloatArray
) -> FloatArray:
    """E[X(t) | x, T, alive at T]; FHL 2005 eq. 10 is this times P(alive).

    The published form multiplies ((alpha+T)/(alpha+T+t))^(r+x) by 2F1(r+x, b+x; a+b+x-1; z),
    z = t/(alpha+T+t): for large x the first underflows while the second overflows. Euler's
    transformation 2F1(A, B; C; z) = (1-z)^(C-A-B) 2F1(C-A, C-B; C; z) turns the product into
    (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z), whose hypergeometric tends to 1 as x grows.
    (Checked against direct numerical integration over p ~ Beta(a, b+x) to ~1e-11.)
    """
    r, alpha, a, b = params
    # The expression is continuous in a at a = 1 and in a+b+x-1 at 0, but 0/0 numerically
    # there; nudge away from the removable singularities.
    if abs(a - 1.0) < 1e-7:
        a = 1.0 + 1e-7
    c = a + b + x - 1.0
    c = np.where(np.abs(c) < 1e-7, 1e-7, c)
    one_minus_z = (alpha + T) / (alpha + T + t)
    z = t / (alpha + T + t)
    tail = one_minus_z ** (a - 1.0) * hyp2f1(a + b - 1.0 - r, a - 1.0, c, z)
    return c / (a - 1.0) * (1.0 - tail)


# Numerical fallback for the closed form: nodes per row, rows per chunk (memory ~ their product).
QUAD_NODES = 2001
QUAD_CHUNK = 256


def _expected_if_alive_by_quadrature(
    params: tuple[float, float, float, float], t: FloatArray, x: FloatArray, T: FloatArray
) -> FloatArray:
    """E[X(t) | x, T, alive] by numerical integration, for the rows where ``hyp2f1`` fails
    (large a + b + x with z near 1, where scipy's hypergeometric returns NaN).

    Given alive, lambda ~ Gamma(r+x, alpha+T) and p ~ Beta(a, b+x); for given p the expected
    purchases are E_lambda[(1 - exp(-lambda p t)) / p] = (1 - (1 + p t/(alpha+T))^-(r+x)) / p,
    a bounded smooth function. It is averaged over p with the trapezoid rule in u = logit(p),
    where the Beta density is log-concave with exponential tails (rates a and b+x) and the rule
    converges fast; the weights are normalised numerically, which also avoids Beta functions.
    """
    r, alpha, a, b = params
    out = np.empty_like(t)
    for start in range(0, t.size, QUAD_CHUNK):
        sl = slice(start, start + QUAD_CHUNK)
        b2 = (b + x[sl])[:, None]
        rx = (r + x[sl])[:, None]
        rate = (t[sl] / (alpha + T[sl]))[:, None]  # t / (alpha + T)
        mode = np.log(a / b2)
        sd = np.sqrt((a + b2) / (a * b2))
        # Out to where the density has fallen by e^-45 on each side (capped).
        left = np.minimum(45.0 / a + 10.0 * sd, 5000.0)
        right = np.minimum(45.0 / b2 + 10.0 * sd, 5000.0)
        grid = np.linspace(0.0, 1.0, QUAD_NODES)[None, :]
        u = mode - left + (left + right) * grid
        log_dens = a * u - (a + b2) * np.logaddexp(0.0, u)
        dens = np.exp(log_dens - log_dens.max(axis=1, keepdims=True))
        dens[:, [0, -1]] *= 0.5  # trapezoid end weights
        p = expit(u)
        y = p * rate
        g = np.where(p > 0, -np.expm1(-rx * np.log1p(y)) / np.where(p > 0, p, 1.0), rx * rate)
        out[sl] = (g * dens).sum(axis=1) / dens.sum(axis=1)
    return out


def _expected_if_alive(
    fit: BgNbdFit | None,
    model_params: tuple[float, float, float, float] | None,
    t: FloatArray,
    x: FloatArray,
    T: FloatArray,
) -> FloatArray:
    """Model (or fallback) expectation given alive. Rows where the closed form fails (not finite
    or outside [0, no-dropout bound]; happens for large a + b + x) are integrated numerically;
    should that fail too, they get the empirical rate (0 when only raw parameters are known)."""
    with np.errstate(all="ignore"):
        if model_params is None:
            assert fit is not None
            out = _fallback_rate(fit, x, T) * t
        else:
            out = np.asarray(_model_expected_if_alive(model_params, t, x, T), dtype=np.float64)
            # Without dropout a customer would buy (r+x) t / (alpha+T) times: a hard upper bound.
            r, alpha = model_params[0], model_params[1]
            bound = (r + x) * t / (alpha + T)
            bad = ~np.isfinite(out) | (out < -1e-9 * bound) | (out > bound * (1 + 1e-7) + 1e-12)
            if bad.any():
                out[bad] = _expected_if_alive_by_quadrature(model_params, t[bad], x[bad], T[bad])
                bad = ~np.isfinite(out)
            if bad.any():
                fb = _fallback_rate(fit, x, T) * t if fit is not None else np.zeros_like(out)
                out = np.where(bad, fb, out)
            out = np.minimum(out, bound)
    out = np.where(t > 0, out, 0.0)  # nothing can happen in an empty interval
    return np.clip(np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0), 0.0, None)


def _clean_t(t: ArrayLike) -> FloatArray:
    t_arr = _as_float(t)
    return np.where(np.isfinite(t_arr) & (t_arr > 0), t_arr, 0.0)


def expected_purchases(
    params: BgNbdFit | Sequence[float],
    t: ArrayLike,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
) -> FloatArray:
    """Expected number of purchase days in (T, T + t] given the history (x, t_x, T), all in the
    fit's time unit: E[X(t) | x, t_x, T] (FHL 2005, eq. 10, via ``scipy.special.hyp2f1``).

    ``params`` is a ``BgNbdFit`` (its fallback is honoured) or raw (r, alpha, a, b). Under the
    ``'empirical_rate'`` fallback: ``p_alive_i * rate_i * t``. Where scipy's hypergeometric
    breaks down (large a + b + x with t >> alpha + T) the same expectation is integrated
    numerically over p; the result is always finite, >= 0 and at most the no-dropout
    expectation (r + x) t / (alpha + T).
    """
    x_c, tx_c, T_c = _clean_rft(x, t_x, T)
    t_b, x_b, tx_b, T_b = np.broadcast_arrays(_clean_t(t), x_c, tx_c, T_c)
    fit, model_params = _resolve_bg(params)
    alive = p_alive(params, x_b, tx_b, T_b)
    return alive * _expected_if_alive(fit, model_params, t_b, x_b, T_b)


def expected_purchases_new_customer(params: BgNbdFit | Sequence[float], t: ArrayLike) -> FloatArray:
    """E[X(t)] for a customer just acquired (FHL 2005, eq. 7): the conditional expectation with
    no history, x = t_x = T = 0 (the first purchase itself is not counted)."""
    t_arr = _as_float(t)
    zeros = np.zeros_like(t_arr)
    return expected_purchases(params, t_arr, zeros, zeros, zeros)


# --------------------------------------------------------------------------------------------
# Gamma-Gamma
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _GgData:
    """Repeat buyers' (x, m) with the parameter-free pieces of the likelihood precomputed;
    x-only special functions are evaluated per distinct x (``x_values``, ``x_counts``)."""

    x: FloatArray
    m: FloatArray
    x_values: FloatArray
    x_counts: FloatArray
    sum_x_ln_m: float
    sum_ln_m: float
    sum_x_ln_x: float

    @classmethod
    def of(cls, x: FloatArray, m: FloatArray) -> _GgData:
        ux, ix = np.unique(x, return_inverse=True)
        ln_m = np.log(m)
        return cls(
            x=x,
            m=m,
            x_values=ux,
            x_counts=np.bincount(ix.ravel(), minlength=ux.size).astype(np.float64),
            sum_x_ln_m=float(np.dot(x, ln_m)),
            sum_ln_m=float(ln_m.sum()),
            sum_x_ln_x=float(np.dot(x, np.log(x))),
        )


def _gg_ll(params: Sequence[float], d: _GgData, with_grad: bool) -> tuple[float, FloatArray | None]:
    """Total log density of the customers' mean spends m over x purchases (Fader & Hardie
    2013, eq. 3), summed:
    lnG(px+q) - lnG(px) - lnG(q) + q ln(gamma) + (px-1) ln m + px ln x - (px+q) ln(gamma + x m),
    and optionally its gradient w.r.t. log(p, q, gamma)."""
    p, q, g = (float(v) for v in params)
    n = float(d.x.size)
    ux, nx = d.x_values, d.x_counts
    ln_gxm = np.log(g + d.x * d.m)  # the only per-row special function
    sum_ln_gxm = float(ln_gxm.sum())
    sum_x_ln_gxm = float(np.dot(d.x, ln_gxm))
    total = (
        float(np.dot(nx, gammaln(p * ux + q) - gammaln(p * ux)))
        + n * (q * math.log(g) - gammaln(q))
        + p * (d.sum_x_ln_m + d.sum_x_ln_x - sum_x_ln_gxm)
        - d.sum_ln_m
        - q * sum_ln_gxm
    )
    total = float(total)
    if not with_grad:
        return total, None
    psi_pxq = psi(p * ux + q)
    d_p = float(np.dot(nx * ux, psi_pxq - psi(p * ux))) + d.sum_x_ln_m + d.sum_x_ln_x - sum_x_ln_gxm
    d_q = float(np.dot(nx, psi_pxq)) - n * psi(q) + n * math.log(g) - sum_ln_gxm
    d_g = n * q / g - float(np.sum((p * d.x + q) / (g + d.x * d.m)))
    return total, np.array([p * d_p, q * d_q, g * d_g], dtype=np.float64)


def gamma_gamma_log_likelihood(params: Sequence[float], x: ArrayLike, m: ArrayLike) -> float:
    """Total Gamma-Gamma log-likelihood of (p, q, gamma) over customers with x > 0 and m > 0."""
    x_a, m_a = np.broadcast_arrays(_as_float(x), _as_float(m))
    ok = np.isfinite(x_a) & np.isfinite(m_a) & (x_a > 0) & (m_a > 0)
    return _gg_ll(params, _GgData.of(x_a[ok], m_a[ok]), with_grad=False)[0]


@_single_threaded_blas
def fit_gamma_gamma(
    x: ArrayLike,
    m: ArrayLike,
    *,
    min_customers: int = MIN_CUSTOMERS,
    fallback_mean_spend: float | None = None,
) -> GammaGammaFit:
    """Fit Gamma-Gamma (p, q, gamma) by maximum likelihood on customers with x > 0.

    ``m`` is the mean spend per repeat purchase day (daily totals, first purchase day excluded);
    rows with x = 0, or m not finite and > 0, are not part of the fit. L-BFGS-B on log-parameters
    with the analytic gradient, money rescaled so that the mean spend is 1.

    Falls back to ``'shrunk_mean'`` (module docstring) with fewer than ``min_customers`` repeat
    buyers, no convergence, or q <= 1 (the population mean p*gamma/(q-1) would not exist).
    ``fallback_mean_spend`` is the population mean to use when nobody has a repeat purchase
    (e.g. the mean first-purchase amount); 0 if not given.
    """
    x_a, m_a = np.broadcast_arrays(_as_float(x), _as_float(m))
    ok = np.isfinite(x_a) & np.isfinite(m_a) & (x_a > 0) & (m_a > 0)
    xs, ms = x_a[ok], m_a[ok]
    n = int(xs.size)
    total_x = float(xs.sum())
    if total_x > 0:
        empirical_mean = float(np.dot(xs, ms) / total_x)
    else:
        fb = fallback_mean_spend
        empirical_mean = float(fb) if fb is not None and np.isfinite(fb) and fb > 0 else 0.0

    def fallback(
        message: str,
        params: tuple[float, float, float] | None = None,
        ll: float | None = None,
    ) -> GammaGammaFit:
        p, q, g = params if params is not None else (None, None, None)
        return GammaGammaFit(
            p=p,
            q=q,
            gamma=g,
            log_likelihood=ll,
            customers_fitted=n,
            converged=False,
            message=message,
            fallback="shrunk_mean",
            population_mean=empirical_mean,
        )

    if n < min_customers:
        return fallback(f"too few repeat buyers to fit: {n} < {min_customers}")

    scale = float(ms.mean())
    ms_s = ms / scale

    data = _GgData.of(xs, ms_s)

    objective = _mean_nll_objective(_gg_ll, data, n)
    # Method-of-moments flavoured starts: q > 1 and p*gamma/(q-1) = 1 (the scaled mean).
    starts = [(0.0, math.log(2.0), 0.0), (math.log(5.0), math.log(4.0), math.log(0.6)), (0, 0, 0)]
    log_params, _value, gmax, opt_message = _optimise(objective, starts)
    if log_params is None:
        return fallback(f"optimiser failed: {opt_message}")
    p, q, g_s = (float(v) for v in np.exp(log_params))
    params = (p, q, g_s * scale)
    ll_total = gamma_gamma_log_likelihood(params, xs, ms)
    if not (np.isfinite(ll_total) and all(np.isfinite(params))):
        return fallback("optimiser returned non-finite estimates")
    if gmax >= GRAD_TOL:
        return fallback(
            f"not converged (max |gradient| {gmax:.2g}; {opt_message})",
            params,
            ll_total,
        )
    if q <= 1.0:
        return fallback(
            f"q = {q:.3g} <= 1: the population mean spend is undefined", params, ll_total
        )
    return GammaGammaFit(
        p=p,
        q=q,
        gamma=params[2],
        log_likelihood=ll_total,
        customers_fitted=n,
        converged=True,
        message=f"converged ({opt_message})",
        fallback=None,
        population_mean=p * params[2] / (q - 1.0),
    )


def expected_avg_spend(
    gg: GammaGammaFit | Sequence[float], x: ArrayLike, m: ArrayLike
) -> FloatArray:
    """Expected spend per future purchase day, E[M | x, m] (Fader & Hardie 2013, eq. 5):
    a weighted mean of the population mean p*gamma/(q-1) and the customer's own mean m with
    weight p*x/(p*x+q-1) on m.

    Customers with x = 0 (or a non-finite m) get the population mean; negative m (returns
    outweighing purchases) counts as 0. Under the ``'shrunk_mean'`` fallback:
    ``(x*m + k*m_pop)/(x + k)``. Always finite and >= 0.
    """
    x_a, m_a = np.broadcast_arrays(_as_float(x), _as_float(m))
    x_c = np.where(np.isfinite(x_a) & (x_a > 0), x_a, 0.0)
    has_info = (x_c > 0) & np.isfinite(m_a)
    m_c = np.where(has_info, np.maximum(m_a, 0.0), 0.0)
    x_c = np.where(has_info, x_c, 0.0)  # no usable mean -> weight 0 on it
    if isinstance(gg, GammaGammaFit):
        if gg.uses_model:
            assert gg.params is not None
            p, q, _g = gg.params
            pop, k_eff = gg.population_mean, (q - 1.0) / p
        else:
            pop, k_eff = gg.population_mean, gg.fallback_pseudo_purchases
    else:
        p, q, g = (float(v) for v in gg)
        if not (all(np.isfinite(v) and v > 0 for v in (p, q, g)) and q > 1):
            raise ValueError(f"Gamma-Gamma parameters need p, gamma > 0 and q > 1, got {gg!r}")
        pop, k_eff = p * g / (q - 1.0), (q - 1.0) / p
    # Both branches are the same shrinkage: (x*m + k*pop) / (x + k); for the model
    # k = (q-1)/p, which is eq. 5 rearranged.
    with np.errstate(all="ignore"):
        out = (x_c * m_c + k_eff * pop) / (x_c + k_eff)
    return np.clip(np.nan_to_num(out, nan=pop, posinf=pop, neginf=0.0), 0.0, None)


# --------------------------------------------------------------------------------------------
# CLV
# --------------------------------------------------------------------------------------------
def _distinct_pairs(
    x: FloatArray, T: FloatArray, time_grid: float
) -> tuple[FloatArray, FloatArray, NDArray[np.intp]]:
    """Distinct (x, T) pairs, ordered as (x, T), and per row the index of its pair; T is
    factorised on the day grid as in ``_design``."""
    ux, ix = _factorise(x, 1.0)
    uT, iT = _factorise(T, time_grid)
    key = ix.astype(np.int64) * uT.size + iT  # < n^2, no overflow
    distinct, inverse = np.unique(key, return_inverse=True)
    pair_x, pair_T = np.divmod(distinct, uT.size)
    return ux[pair_x], uT[pair_T], inverse.ravel()


def predict_clv(
    bg: BgNbdFit,
    gg: GammaGammaFit,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    m: ArrayLike,
    horizon: float = 12.0,
    time_unit: TimeUnit | None = None,
    monthly_discount_rate: float = 0.0,
    margin: float = 1.0,
) -> ClvPrediction:
    """Expected purchase days over the next ``horizon`` months and their value.

    ``x, t_x, T`` in ``time_unit`` (must equal ``bg.time_unit``; defaults to it), ``m`` mean
    spend per repeat purchase day. A month is 365.25/12 days. CLV = margin * expected spend *
    sum over months k = 1..horizon of (E[X(t_k)] - E[X(t_(k-1))]) / (1 + d)^k, i.e. each
    month's purchases are discounted to the as-of day at the end of that month; with d = 0 this
    is simply expected orders x expected spend x margin. A fractional horizon adds a partial
    last month.
    """
    unit = time_unit or bg.time_unit
    _check_unit(unit)
    if unit != bg.time_unit:
        raise ValueError(f"inputs are in {unit!r} but the BG/NBD fit is in {bg.time_unit!r}")
    horizon = float(horizon) if np.isfinite(horizon) and horizon > 0 else 0.0
    d = float(monthly_discount_rate) if np.isfinite(monthly_discount_rate) else 0.0
    d = max(d, 0.0)
    margin_f = float(margin) if np.isfinite(margin) else 1.0

    x_c, tx_c, T_c = _clean_rft(x, t_x, T)
    m_b = np.broadcast_to(_as_float(m), x_c.shape)
    month = DAYS_PER_MONTH / DAYS_PER_UNIT[unit]
    n_steps = math.ceil(horizon - 1e-9)
    ends = np.minimum(np.arange(1, n_steps + 1, dtype=np.float64), horizon)

    fit, model_params = _resolve_bg(bg)
    alive = p_alive(bg, x_c, tx_c, T_c)
    # Given alive, the expectation depends on (x, T) only: evaluate the hypergeometric once per
    # distinct pair (tens of thousands for a million customers) and gather back.
    pair_x, pair_T, pair_of_row = _distinct_pairs(x_c, T_c, DAYS_PER_UNIT[unit])
    cumulative_prev = np.zeros_like(pair_x)
    discounted = np.zeros_like(pair_x)
    for k, end in enumerate(ends, start=1):
        t_k = np.full_like(pair_x, end * month)
        cumulative = _expected_if_alive(fit, model_params, t_k, pair_x, pair_T)
        # E[X(t)] is non-decreasing in t; guard against rounding in the hypergeometric.
        cumulative = np.maximum(cumulative, cumulative_prev)
        discounted += (cumulative - cumulative_prev) / (1.0 + d) ** k
        cumulative_prev = cumulative
    expected_orders = alive * cumulative_prev[pair_of_row]
    discounted_orders = alive * discounted[pair_of_row]
    spend = expected_avg_spend(gg, x_c, m_b)
    clv = np.nan_to_num(margin_f * spend * discounted_orders, nan=0.0, posinf=0.0, neginf=0.0)
    return ClvPrediction(
        expected_orders=expected_orders,
        p_alive=alive,
        expected_spend=spend,
        clv=clv,
    )


# --------------------------------------------------------------------------------------------
# marts.clv_model_params rows
# --------------------------------------------------------------------------------------------
def _finite_or_none(value: float | None) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def params_rows(fit: BgNbdFit | GammaGammaFit, snapshot_month: date | None = None) -> list[dict]:
    """Rows of ``marts.clv_model_params`` (snapshot_month x model x parameter) for one fit.

    Columns: snapshot_month (when given), model ('bg_nbd' / 'gamma_gamma'), parameter
    (r, alpha, a, b / p, q, gamma), value (None when no estimate exists), time_unit (the fit's
    unit for bg_nbd, None for the unit-free spend model), log_likelihood, customers_fitted,
    converged, message, fallback. Under a fallback the rows also carry the rule's own
    parameters (bg_nbd: fallback_rate, fallback_prior_time; gamma_gamma: population_mean,
    fallback_pseudo_purchases) so a BI user can see what the predictions used.
    """
    if isinstance(fit, BgNbdFit):
        model, unit = "bg_nbd", fit.time_unit
        values = {"r": fit.r, "alpha": fit.alpha, "a": fit.a, "b": fit.b}
        if fit.fallback is not None:
            values |= {
                "fallback_rate": fit.fallback_rate,
                "fallback_prior_time": fit.fallback_prior_time,
            }
    else:
        model, unit = "gamma_gamma", None
        values = {"p": fit.p, "q": fit.q, "gamma": fit.gamma}
        if fit.fallback is not None:
            values |= {
                "population_mean": fit.population_mean,
                "fallback_pseudo_purchases": fit.fallback_pseudo_purchases,
            }
    rows = []
    for parameter, value in values.items():
        row: dict = {} if snapshot_month is None else {"snapshot_month": snapshot_month}
        row |= {
            "model": model,
            "parameter": parameter,
            "value": _finite_or_none(value),
            "time_unit": unit,
            "log_likelihood": _finite_or_none(fit.log_likelihood),
            "customers_fitted": fit.customers_fitted,
            "converged": fit.converged,
            "message": fit.message,
            "fallback": fit.fallback,
        }
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------------
# From purchases to (x, t_x, T, m)
# --------------------------------------------------------------------------------------------
def rfm_summary(
    purchases: pl.DataFrame | pl.LazyFrame,
    as_of: date,
    time_unit: TimeUnit = "week",
    *,
    customer_col: str = "customer_id",
    date_col: str = "purchased_at",
    amount_col: str = "amount",
) -> pl.DataFrame:
    """Per-customer model inputs as of the end of ``as_of``, following the contract exactly.

    ``purchases`` holds completed purchases only (the caller filters cancellations/returns);
    ``date_col`` may be a date or a datetime (its calendar day counts). Purchases after
    ``as_of`` are ignored. Purchases are summed per customer and day (one transaction per
    customer and day), then:

    * ``frequency`` = distinct purchase days - 1 (x),
    * ``recency_days`` = days from the last purchase day to ``as_of``,
    * ``tenure_days`` = days from the first purchase day to ``as_of``,
    * ``t_x`` = (last - first purchase day) and ``T`` = tenure, both in ``time_unit`` (/7 for
      weeks),
    * ``mean_repeat_spend`` = mean of the daily totals excluding the first purchase day (the
      Fader-Hardie convention used for CDNOW; null when frequency = 0),
    * ``first_purchase_spend`` and ``monetary_total`` for convenience.
    """
    import polars as pl

    _check_unit(time_unit)
    if isinstance(as_of, datetime):  # the as-of *day* counts, whatever time of day was passed
        as_of = as_of.date()
    per_unit = DAYS_PER_UNIT[time_unit]
    day = pl.col(date_col).cast(pl.Date)
    daily = (
        purchases.lazy()
        .select(
            pl.col(customer_col).alias("customer_id"),
            day.alias("purchase_day"),
            pl.col(amount_col).cast(pl.Float64).alias("amount"),
        )
        .filter(pl.col("purchase_day") <= pl.lit(as_of))
        .group_by("customer_id", "purchase_day")
        .agg(pl.col("amount").sum())
    )
    as_of_lit = pl.lit(as_of)
    summary = (
        daily.group_by("customer_id")
        .agg(
            (pl.len() - 1).cast(pl.Int64).alias("frequency"),
            pl.col("purchase_day").min().alias("first_purchase_day"),
            pl.col("purchase_day").max().alias("last_purchase_day"),
            # Daily total of the first purchase day (cheaper than sorting within groups).
            pl.col("amount").get(pl.col("purchase_day").arg_min()).alias("first_purchase_spend"),
            pl.col("amount").sum().alias("monetary_total"),
        )
        .with_columns(
            # Mean of the daily totals after the first purchase day (Fader-Hardie); null at x = 0.
            pl.when(pl.col("frequency") > 0)
            .then((pl.col("monetary_total") - pl.col("first_purchase_spend")) / pl.col("frequency"))
            .otherwise(None)
            .alias("mean_repeat_spend"),
        )
        .with_columns(
            (as_of_lit - pl.col("last_purchase_day")).dt.total_days().alias("recency_days"),
            (as_of_lit - pl.col("first_purchase_day")).dt.total_days().alias("tenure_days"),
            (pl.col("last_purchase_day") - pl.col("first_purchase_day"))
            .dt.total_days()
            .alias("t_x_days"),
        )
        .with_columns(
            (pl.col("t_x_days") / per_unit).alias("t_x"),
            (pl.col("tenure_days") / per_unit).alias("T"),
        )
        .select(
            "customer_id",
            "frequency",
            "recency_days",
            "tenure_days",
            "t_x",
            "T",
            "mean_repeat_spend",
            "first_purchase_spend",
            "monetary_total",
        )
        .sort("customer_id")
    )
    return summary.collect()
