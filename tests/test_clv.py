"""Predictive CLV: BG/NBD and Gamma-Gamma against the published CDNOW fits, plus robustness.

Reference values (tests/data/CDNOW_README.md): Fader, Hardie & Lee (2005) and
Fader & Hardie (2013) on the CDNOW 1/10 sample, calibration 1997-01-01 .. 1997-09-30, weeks.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy.integrate import quad
from scipy.special import betaln, gammaln, hyp2f1

from dagster_project.lib import clv

# A copy of /work/shared/datasets/cdnow (public data), so CI needs nothing outside the repo.
CDNOW = Path(__file__).parent / "data" / "CDNOW_sample.txt"
AS_OF = date(1997, 9, 30)
PUBLISHED_BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_GG = {"p": 6.25, "q": 3.74, "gamma": 15.44}


# ------------------------------------------------------------------------------------------
# fixtures
# ------------------------------------------------------------------------------------------
def _read_cdnow() -> pl.DataFrame:
    """Whitespace-separated, no header: master id, sample id, YYYYMMDD, CDs, dollars."""
    rows = [line.split() for line in CDNOW.read_text().splitlines() if line.strip()]
    return pl.DataFrame(
        {
            "customer_id": [int(r[1]) for r in rows],
            "purchased_at": [r[2] for r in rows],
            "amount": [float(r[4]) for r in rows],
        }
    ).with_columns(pl.col("purchased_at").str.to_date("%Y%m%d"))


@pytest.fixture(scope="module")
def cdnow_weeks() -> pl.DataFrame:
    return clv.rfm_summary(_read_cdnow(), AS_OF, "week")


@pytest.fixture(scope="module")
def cdnow_arrays(cdnow_weeks: pl.DataFrame) -> tuple[np.ndarray, ...]:
    s = cdnow_weeks
    return (
        s["frequency"].to_numpy().astype(float),
        s["t_x"].to_numpy(),
        s["T"].to_numpy(),
        s["mean_repeat_spend"].fill_null(np.nan).to_numpy(),
    )


@pytest.fixture(scope="module")
def bg_fit(cdnow_arrays: tuple[np.ndarray, ...]) -> clv.BgNbdFit:
    x, t_x, T, _ = cdnow_arrays
    return clv.fit_bg_nbd(x, t_x, T, "week")


@pytest.fixture(scope="module")
def gg_fit(cdnow_arrays: tuple[np.ndarray, ...]) -> clv.GammaGammaFit:
    x, _, _, m = cdnow_arrays
    return clv.fit_gamma_gamma(x, m)


def simulate_bg_nbd(
    n: int, r: float, alpha: float, a: float, b: float, max_tenure_days: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Customers of the BG/NBD process in days (alpha per day), first purchases spread evenly
    over ``max_tenure_days``; t_x on whole days, as real data have."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    T = rng.integers(0, max_tenure_days, n).astype(float)
    x, t_x, clock = np.zeros(n), np.zeros(n), np.zeros(n)
    active = T > 0
    while active.any():
        idx = np.flatnonzero(active)
        clock[idx] += rng.exponential(1.0, idx.size) / lam[idx]
        in_window = clock[idx] < T[idx]
        buyers = idx[in_window]
        x[buyers] += 1
        t_x[buyers] = clock[buyers]
        active[idx[~in_window]] = False
        active[buyers[rng.random(buyers.size) < p[buyers]]] = False  # drop out after a purchase
    return x, np.floor(t_x), T


def _all_finite(*arrays: np.ndarray) -> bool:
    return all(np.all(np.isfinite(np.asarray(a))) for a in arrays)


# ------------------------------------------------------------------------------------------
# the contract's inputs from purchases
# ------------------------------------------------------------------------------------------
def test_rfm_summary_follows_the_contract() -> None:
    purchases = pl.DataFrame(
        {
            "customer_id": ["a", "a", "a", "a", "b", "c", "c"],
            "purchased_at": [
                datetime(2024, 1, 1, 9),
                datetime(2024, 1, 1, 18),  # same day: one transaction of 30
                datetime(2024, 1, 8, 12),
                datetime(2024, 2, 1, 0),  # after the as-of day: ignored
                datetime(2024, 1, 31, 23, 59),  # first purchase on the as-of day: T = 0
                datetime(2024, 2, 2, 0),  # only after the as-of day: not a customer yet
                datetime(2024, 2, 3, 0),
            ],
            "amount": [10.0, 20.0, 5.0, 99.0, 7.0, 1.0, 1.0],
        }
    )
    days = clv.rfm_summary(purchases, date(2024, 1, 31), "day")
    assert days["customer_id"].to_list() == ["a", "b"]
    a, b = days.row(0, named=True), days.row(1, named=True)
    assert (a["frequency"], a["t_x"], a["T"], a["recency_days"]) == (1, 7.0, 30.0, 23)
    assert a["mean_repeat_spend"] == 5.0  # the first day's 30 is excluded
    assert (a["first_purchase_spend"], a["monetary_total"]) == (30.0, 35.0)
    assert (b["frequency"], b["t_x"], b["T"], b["recency_days"]) == (0, 0.0, 0.0, 0)
    assert b["mean_repeat_spend"] is None
    weeks = clv.rfm_summary(purchases.lazy(), datetime(2024, 1, 31, 12), "week")
    assert weeks["T"].to_list() == pytest.approx([30 / 7, 0.0])


def test_cdnow_calibration_summary(cdnow_weeks: pl.DataFrame) -> None:
    s = cdnow_weeks
    assert s.height == 2357
    assert s.filter(pl.col("frequency") > 0).height == 946
    assert s["tenure_days"].max() == 272  # first purchase 1997-01-01
    assert s["T"].max() == pytest.approx(38.857, abs=1e-3)
    assert int(s["frequency"].sum()) == 2457  # repeat purchase days, as in FHL (2005)


# ------------------------------------------------------------------------------------------
# BG/NBD on CDNOW
# ------------------------------------------------------------------------------------------
def test_bg_nbd_reproduces_the_published_cdnow_fit(bg_fit: clv.BgNbdFit) -> None:
    assert bg_fit.converged and bg_fit.fallback is None, bg_fit.message
    for name, published in PUBLISHED_BG.items():
        assert getattr(bg_fit, name) == pytest.approx(published, rel=0.01), name
    assert bg_fit.log_likelihood == pytest.approx(-9582.4, abs=0.5)
    assert bg_fit.customers_fitted == 2357


def test_bg_nbd_conditional_expectation_matches_the_paper(bg_fit: clv.BgNbdFit) -> None:
    fitted = clv.expected_purchases(bg_fit, 39.0, 2, 30.43, 38.86)
    published = clv.expected_purchases(tuple(PUBLISHED_BG.values()), 39.0, 2, 30.43, 38.86)
    assert fitted[0] == pytest.approx(1.226, abs=1e-3)
    assert published[0] == pytest.approx(1.226, abs=1e-3)


def test_a_day_unit_fit_is_the_same_model(
    bg_fit: clv.BgNbdFit, cdnow_arrays: tuple[np.ndarray, ...]
) -> None:
    x, t_x, T, _ = cdnow_arrays
    days = clv.fit_bg_nbd(x, t_x * 7, T * 7, "day")
    assert days.converged and days.time_unit == "day"
    assert days.alpha == pytest.approx(7 * bg_fit.alpha, rel=1e-5)
    for name in ("r", "a", "b"):
        assert getattr(days, name) == pytest.approx(getattr(bg_fit, name), rel=1e-5)
    # Densities in days vs weeks differ by the Jacobian: one factor 7 per repeat purchase.
    assert days.log_likelihood == pytest.approx(bg_fit.log_likelihood - x.sum() * math.log(7))
    # ... and predictions do not depend on the unit.
    assert clv.expected_purchases(days, 39 * 7, 2, 30.43 * 7, 38.86 * 7) == pytest.approx(
        clv.expected_purchases(bg_fit, 39, 2, 30.43, 38.86), rel=1e-5
    )


def test_grouped_fit_equals_the_ungrouped_fit(
    bg_fit: clv.BgNbdFit, cdnow_arrays: tuple[np.ndarray, ...]
) -> None:
    x, t_x, T, _ = cdnow_arrays
    ungrouped = clv.fit_bg_nbd(x, t_x, T, "week", group=False)
    assert ungrouped.converged
    assert ungrouped.params == pytest.approx(bg_fit.params, rel=1e-6)
    assert ungrouped.log_likelihood == pytest.approx(bg_fit.log_likelihood, abs=1e-6)
    gx, gtx, gT, counts = clv.group_customers(x, t_x, T)
    assert gx.size < x.size and counts.sum() == x.size
    weighted = clv.fit_bg_nbd(gx, gtx, gT, "week", weights=counts)
    assert weighted.params == pytest.approx(bg_fit.params, rel=1e-6)
    assert weighted.customers_fitted == 2357


def test_a_fit_started_on_a_sample_reaches_the_full_fit(monkeypatch) -> None:
    x, t_x, T = simulate_bg_nbd(20_000, 0.4, 25.0, 0.7, 3.0, 730, seed=5)
    monkeypatch.setattr(clv, "SAMPLE_ROWS", 10**9)
    full = clv.fit_bg_nbd(x, t_x, T, "day")
    monkeypatch.setattr(clv, "SAMPLE_ROWS", 1_000)
    sampled = clv.fit_bg_nbd(x, t_x, T, "day")
    assert full.converged and sampled.converged, sampled.message
    assert "Newton steps" not in full.message and "sample" not in full.message
    assert "on a sample of the rows, then" in sampled.message and "Newton steps" in sampled.message
    assert sampled.params == pytest.approx(full.params, rel=1e-6)
    assert sampled.log_likelihood == pytest.approx(full.log_likelihood, abs=1e-6)


def test_newton_steps_that_cannot_converge_hand_over_to_lbfgsb() -> None:
    # A sample whose curvature is wrong by twelve orders of magnitude in one direction: the
    # Newton steps overshoot, and L-BFGS-B on the whole objective must still find its minimum.
    target = np.array([0.3, -0.2])

    def whole(v: np.ndarray) -> tuple[float, np.ndarray]:
        return float((v - target) @ (v - target)), 2.0 * (v - target)

    def misleading_sample(v: np.ndarray) -> tuple[float, np.ndarray]:
        scale = np.array([1.0, 1e-12])
        return float(scale @ (v - target) ** 2), 2.0 * scale * (v - target)

    log_params, value, gmax, message = clv._optimise(whole, [(0.0, 0.0)], misleading_sample)
    assert log_params is not None and message.startswith("L-BFGS-B")
    assert log_params == pytest.approx(target, abs=1e-6) and gmax < clv.GRAD_TOL


def test_day_grid_factorisation_equals_sorting_and_is_exact_off_the_grid() -> None:
    rng = np.random.default_rng(7)
    days = rng.integers(0, 800, 50_000).astype(np.float64)
    weeks = days / 7.0
    # A few values off the day grid (e.g. hours) must not be snapped onto it.
    mixed = np.concatenate([weeks, weeks[:5] + 1e-9, [3.5 / 24.0]])
    for values, grid in ((weeks, 7.0), (days, 1.0), (mixed, 7.0), (weeks, 1.0)):
        distinct, position = clv._factorise(values, grid)
        expected, inverse = np.unique(values, return_inverse=True)
        assert np.array_equal(distinct, expected)
        assert np.array_equal(position, inverse.ravel())
        assert np.array_equal(distinct[position], values)  # bit for bit
    # Grouping with any weights gives the same design as grouping counted rows.
    x = rng.integers(0, 20, weeks.size).astype(np.float64)
    t_x = np.minimum(weeks, rng.integers(0, 800, weeks.size) / 7.0)
    counted = clv._design(x, t_x, weeks, np.ones_like(x), group=True, time_grid=7.0)
    weighted = clv._design(x, t_x, weeks, np.full_like(x, 2.0), group=True, time_grid=7.0)
    assert counted.rows < x.size and counted.weights.sum() == x.size
    assert np.array_equal(weighted.weights, 2.0 * counted.weights)
    for index in ("x_index", "T_index", "tx_index"):
        assert np.array_equal(getattr(weighted, index), getattr(counted, index))


def test_likelihood_gradient_is_the_analytic_one(cdnow_arrays: tuple[np.ndarray, ...]) -> None:
    x, t_x, T, m = cdnow_arrays
    design = clv._design(x, t_x, T, np.ones_like(x), group=True)
    log_theta = np.log([0.3, 5.0, 0.7, 2.0])
    _, grad = clv._bg_nbd_ll(np.exp(log_theta), design, with_grad=True)
    for i in range(4):
        step = np.zeros(4)
        step[i] = 1e-6
        up = clv._bg_nbd_ll(np.exp(log_theta + step), design, with_grad=False)[0]
        down = clv._bg_nbd_ll(np.exp(log_theta - step), design, with_grad=False)[0]
        assert grad[i] == pytest.approx((up - down) / 2e-6, rel=1e-5, abs=1e-4)
    repeat = x > 0
    data = clv._GgData.of(x[repeat], m[repeat])
    log_gg = np.log([5.0, 3.0, 12.0])
    _, gg_grad = clv._gg_ll(np.exp(log_gg), data, with_grad=True)
    for i in range(3):
        step = np.zeros(3)
        step[i] = 1e-6
        up = clv.gamma_gamma_log_likelihood(np.exp(log_gg + step), x, m)
        down = clv.gamma_gamma_log_likelihood(np.exp(log_gg - step), x, m)
        assert gg_grad[i] == pytest.approx((up - down) / 2e-6, rel=1e-5)


def test_gamma_gamma_likelihood_is_the_sum_of_the_densities() -> None:
    # F&H 2013 eq. 3 written out per customer, against the aggregated implementation.
    p, q, g = 6.0, 3.5, 15.0
    x = np.array([1.0, 2.0, 2.0, 7.0])
    m = np.array([10.0, 35.5, 20.0, 41.0])
    density = (
        gammaln(p * x + q)
        - gammaln(p * x)
        - gammaln(q)
        + q * np.log(g)
        + (p * x - 1) * np.log(m)
        + p * x * np.log(x)
        - (p * x + q) * np.log(g + x * m)
    )
    assert clv.gamma_gamma_log_likelihood((p, q, g), x, m) == pytest.approx(density.sum())
    # Customers without repeat purchases or with unusable means are not part of it.
    assert clv.gamma_gamma_log_likelihood(
        (p, q, g), np.append(x, [0, 3]), np.append(m, [np.nan, -1])
    ) == pytest.approx(density.sum())


# ------------------------------------------------------------------------------------------
# Gamma-Gamma on CDNOW
# ------------------------------------------------------------------------------------------
def test_gamma_gamma_reproduces_the_published_cdnow_fit(gg_fit: clv.GammaGammaFit) -> None:
    # Convention that reproduces Fader & Hardie (2013): purchases summed per customer and day,
    # m = mean of the daily totals after the first purchase day, customers with x > 0 (946).
    assert gg_fit.converged and gg_fit.fallback is None, gg_fit.message
    assert gg_fit.customers_fitted == 946
    for name, published in PUBLISHED_GG.items():
        assert getattr(gg_fit, name) == pytest.approx(published, rel=0.01), name
    assert gg_fit.population_mean == pytest.approx(gg_fit.p * gg_fit.gamma / (gg_fit.q - 1))


def test_expected_spend_shrinks_to_the_population_mean(gg_fit: clv.GammaGammaFit) -> None:
    pop = gg_fit.population_mean
    spend = clv.expected_avg_spend(gg_fit, [0, 1, 10, 1000, 3], [np.nan, 100.0, 100.0, 100.0, 0])
    assert spend[0] == pytest.approx(pop)  # no repeat purchase: the population mean
    assert pop < spend[1] < spend[2] < spend[3] < 100.0  # more purchases, more own weight
    p, q, g = gg_fit.params
    assert spend[1] == pytest.approx(p * (g + 100.0) / (p + q - 1))  # F&H 2013, eq. 5
    assert 0 < spend[4] < pop


# ------------------------------------------------------------------------------------------
# predictions
# ------------------------------------------------------------------------------------------
def _reference_expected_if_alive(params, x: float, T: float, t: float) -> float:
    """E[X(t) | alive] = E over p ~ Beta(a, b+x) of (1 - (1 + p t/(alpha+T))^-(r+x)) / p."""
    r, alpha, a, b = params
    b2 = b + x

    def f(p: float) -> float:
        if p == 0.0:
            return (r + x) * t / (alpha + T)
        return -math.expm1(-(r + x) * math.log1p(p * t / (alpha + T))) / p

    value, _ = quad(f, 0, 1, weight="alg", wvar=(a - 1, b2 - 1), epsabs=0, epsrel=1e-11)
    return value * math.exp(-betaln(a, b2))


@pytest.mark.parametrize(
    ("params", "x", "T", "t"),
    [
        ((0.243, 4.414, 0.793, 2.426), 2, 38.86, 39.0),
        ((0.243, 4.414, 0.793, 2.426), 0, 0.0, 52.0),
        ((2.0, 0.5, 3.0, 0.4), 0, 10.0, 500.0),  # a > 1, b < 1
        ((0.1, 30.0, 0.2, 8.0), 40, 100.0, 5.0),
        ((0.5, 2.0, 0.9, 1.5), 500, 400.0, 1000.0),  # large x: Euler-transformed 2F1
    ],
)
def test_conditional_expectation_equals_numerical_integration(params, x, T, t) -> None:
    alive = clv.p_alive(params, x, T * 0.8, T)[0]
    expected = clv.expected_purchases(params, t, x, T * 0.8, T)[0]
    assert expected == pytest.approx(
        alive * _reference_expected_if_alive(params, x, T, t), rel=1e-7
    )
    # ... and the numerical fallback used where hyp2f1 breaks down agrees too.
    t_a, x_a, T_a = np.array([t]), np.array([float(x)]), np.array([T])
    by_quadrature = clv._expected_if_alive_by_quadrature(params, t_a, x_a, T_a)[0]
    assert by_quadrature == pytest.approx(expected / alive, rel=1e-4)


def test_new_customer_expectation_is_fhl_equation_7() -> None:
    r, alpha, a, b = PUBLISHED_BG.values()
    t = np.array([1.0, 39.0, 78.0])
    z = t / (alpha + t)
    eq7 = (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))
    assert clv.expected_purchases_new_customer((r, alpha, a, b), t) == pytest.approx(eq7)


def test_where_hyp2f1_fails_the_numerical_integral_takes_over() -> None:
    # Large a + b (homogeneous dropout) with z near 1: scipy's hyp2f1 returns NaN here.
    params = (50.0, 0.01, 1e-5, 1e5)
    closed = clv._model_expected_if_alive(params, np.array([52.0]), np.zeros(1), np.zeros(1))
    assert not np.isfinite(closed[0])
    # Virtually nobody drops out, so the answer is the Poisson-Gamma one: r t / alpha.
    expected = clv.expected_purchases(params, 52.0, 0, 0, 0)
    assert expected[0] == pytest.approx(50 * 52 / 0.01, rel=1e-3)


def test_predict_clv(
    bg_fit: clv.BgNbdFit, gg_fit: clv.GammaGammaFit, cdnow_arrays: tuple[np.ndarray, ...]
) -> None:
    x, t_x, T, m = cdnow_arrays
    pred = clv.predict_clv(bg_fit, gg_fit, x, t_x, T, m, horizon=12, time_unit="week")
    one_year = 365.25 / 7
    assert pred.expected_orders == pytest.approx(
        clv.expected_purchases(bg_fit, one_year, x, t_x, T)
    )
    assert pred.clv == pytest.approx(pred.expected_orders * pred.expected_spend)
    assert pred.p_alive == pytest.approx(clv.p_alive(bg_fit, x, t_x, T))
    assert _all_finite(pred.expected_orders, pred.p_alive, pred.expected_spend, pred.clv)
    # The whole panel over the 39-week holdout (1997-10-01 .. 1998-06-30): the sample has 1,882
    # repeat purchase days there; the model, which knows no Christmas season, forecasts ~1,650.
    holdout = clv.expected_purchases(bg_fit, 39.0, x, t_x, T).sum()
    assert holdout == pytest.approx(1882, rel=0.15)
    discounted = clv.predict_clv(
        bg_fit, gg_fit, x, t_x, T, m, 12, "week", monthly_discount_rate=0.01, margin=0.3
    )
    assert np.all(discounted.clv <= 0.3 * pred.clv + 1e-9)
    assert discounted.clv.sum() > 0.3 * pred.clv.sum() / 1.01**12
    assert discounted.expected_orders == pytest.approx(pred.expected_orders)
    with pytest.raises(ValueError, match="week"):
        clv.predict_clv(bg_fit, gg_fit, x, t_x, T, m, 12, "day")


def test_outputs_are_finite_for_edge_cases() -> None:
    bg = (0.243, 4.414, 0.793, 2.426)
    x = np.array([0, 0, 1, 2, 1e6, 1e12, np.nan, -3, np.inf, 3, 1])
    t_x = np.array([0, 0, 0, 30, 38.8, 38.86, np.nan, 5, 1, 50, -1])
    T = np.array([0, 38.86, 0, 38.86, 38.86, 38.86, 1, np.inf, np.nan, 40, 0])
    for t in (0.0, 1.0, 52.0, 1e6):
        expected = clv.expected_purchases(bg, t, x, t_x, T)
        assert _all_finite(expected) and np.all(expected >= 0)
    alive = clv.p_alive(bg, x, t_x, T)
    assert _all_finite(alive) and np.all((alive >= 0) & (alive <= 1))
    assert alive[0] == 1.0  # first purchase on the as-of day
    fit = clv.BgNbdFit(*bg, "week", -1.0, 11, True, "", None, 0.03, 30.0)
    gg = clv.GammaGammaFit(6.25, 3.74, 15.44, -1.0, 11, True, "", None, 6.25 * 15.44 / 2.74)
    m = np.array([np.nan, np.nan, 20.0, -5.0, 1e300, 30.0, 1.0, 2.0, 3.0, np.inf, 0.0])
    pred = clv.predict_clv(fit, gg, x, t_x, T, m, horizon=12.5, monthly_discount_rate=0.02)
    assert _all_finite(pred.expected_orders, pred.p_alive, pred.expected_spend, pred.clv)
    assert np.all(pred.clv >= 0)
    assert pred.expected_orders[0] > 0  # a brand-new customer is expected to come back


# ------------------------------------------------------------------------------------------
# robustness: thin data, no repeat buyers, non-convergence, q <= 1
# ------------------------------------------------------------------------------------------
def _check_fallback_predictions(bg: clv.BgNbdFit, gg: clv.GammaGammaFit, x, t_x, T, m) -> None:
    pred = clv.predict_clv(bg, gg, x, t_x, T, m, 12)
    assert _all_finite(pred.expected_orders, pred.p_alive, pred.expected_spend, pred.clv)
    for row in clv.params_rows(bg) + clv.params_rows(gg):
        assert row["value"] is None or math.isfinite(row["value"])
        assert row["log_likelihood"] is None or math.isfinite(row["log_likelihood"])


def test_three_customers_use_the_documented_fallbacks() -> None:
    x, t_x, T, m = [0.0, 2.0, 5.0], [0.0, 10.0, 30.0], [0.0, 20.0, 35.0], [np.nan, 12.0, 20.0]
    bg = clv.fit_bg_nbd(x, t_x, T, "week")
    gg = clv.fit_gamma_gamma(x, m)
    assert not bg.converged and bg.fallback == "empirical_rate" and "too few" in bg.message
    assert not gg.converged and gg.fallback == "shrunk_mean"
    assert bg.params is None and gg.params is None
    # The empirical rule: rate over tenure shrunk to the population rate (7/55 per week) with a
    # prior of one mean tenure (55/3 weeks); p_alive from recency in units of 1/rate.
    k, pop = 55 / 3, 7 / 55
    rate = (5 + k * pop) / (35 + k)
    assert clv.p_alive(bg, 5, 30, 35)[0] == pytest.approx(math.exp(-rate * 5))
    assert clv.expected_purchases(bg, 10, 5, 30, 35)[0] == pytest.approx(
        math.exp(-rate * 5) * rate * 10
    )
    # Gamma-Gamma fallback: own mean shrunk to the repeat-day mean with one pseudo purchase.
    pop_spend = (2 * 12 + 5 * 20) / 7
    assert gg.population_mean == pytest.approx(pop_spend)
    assert clv.expected_avg_spend(gg, 2, 12)[0] == pytest.approx((2 * 12 + pop_spend) / 3)
    assert clv.expected_avg_spend(gg, 0, np.nan)[0] == pytest.approx(pop_spend)
    _check_fallback_predictions(bg, gg, x, t_x, T, m)
    rows = clv.params_rows(bg, date(2024, 1, 1))
    assert {r["parameter"] for r in rows} == {"r", "alpha", "a", "b"} | {
        "fallback_rate",
        "fallback_prior_time",
    }
    assert all(r["fallback"] == "empirical_rate" and r["converged"] is False for r in rows)


def test_no_repeat_buyers_and_no_tenure_fall_back() -> None:
    n = 100
    zeros, tenure = np.zeros(n), np.linspace(0, 50, n)
    bg = clv.fit_bg_nbd(zeros, zeros, tenure, "day")
    assert not bg.converged and "no repeat" in bg.message
    assert bg.fallback_rate == 0.0
    gg = clv.fit_gamma_gamma(zeros, np.full(n, np.nan), fallback_mean_spend=25.0)
    assert gg.fallback == "shrunk_mean" and gg.population_mean == 25.0
    _check_fallback_predictions(bg, gg, zeros, zeros, tenure, np.full(n, np.nan))
    assert np.all(clv.expected_purchases(bg, 30, zeros, zeros, tenure) == 0)
    everyone_new = clv.fit_bg_nbd(zeros, zeros, zeros, "day")
    assert not everyone_new.converged
    _check_fallback_predictions(everyone_new, gg, zeros, zeros, zeros, zeros)


def test_an_optimiser_that_stops_early_is_reported_and_not_used(monkeypatch) -> None:
    x, t_x, T = simulate_bg_nbd(3000, 0.5, 20.0, 0.8, 3.0, 365, seed=3)
    real_minimize = clv.minimize

    def one_step(*args, **kwargs):
        kwargs["options"] = {**kwargs.get("options", {}), "maxiter": 1}
        return real_minimize(*args, **kwargs)

    monkeypatch.setattr(clv, "minimize", one_step)
    bg = clv.fit_bg_nbd(x, t_x, T, "day")
    assert not bg.converged and bg.fallback == "empirical_rate"
    assert "not converged" in bg.message
    gg = clv.fit_gamma_gamma(x, np.where(x > 0, 10.0 + x, np.nan))
    assert not gg.converged and gg.fallback == "shrunk_mean"
    _check_fallback_predictions(bg, gg, x, t_x, T, np.full(x.size, 10.0))


def test_gamma_gamma_with_q_below_one_falls_back() -> None:
    # Spend rates nu ~ Gamma(q = 0.6): the population mean p*gamma/(q-1) does not exist.
    rng = np.random.default_rng(11)
    n = 3000
    x = rng.integers(1, 8, n).astype(float)
    nu = rng.gamma(0.6, 1 / 10.0, n)
    m = rng.gamma(4.0 * x, 1.0 / nu) / x
    gg = clv.fit_gamma_gamma(x, m)
    assert gg.fallback == "shrunk_mean" and not gg.converged
    assert "q =" in gg.message and gg.q is not None and gg.q < 1
    assert math.isfinite(gg.population_mean) and gg.population_mean > 0
    spend = clv.expected_avg_spend(gg, np.append(x, 0), np.append(m, np.nan))
    assert _all_finite(spend)


# ------------------------------------------------------------------------------------------
# scale and parameter recovery
# ------------------------------------------------------------------------------------------
def test_many_customers_recover_the_truth() -> None:
    # Speed is measured by `make bench` (1M customers), not here.
    x, t_x, T = simulate_bg_nbd(200_000, 0.25, 30.0, 0.8, 2.5, 730, seed=7)
    fit = clv.fit_bg_nbd(x, t_x, T, "day")
    assert fit.converged, fit.message
    assert fit.r == pytest.approx(0.25, rel=0.05)
    assert fit.alpha == pytest.approx(30.0, rel=0.08)
    assert fit.a == pytest.approx(0.8, rel=0.1)
    assert fit.b == pytest.approx(2.5, rel=0.15)


# ------------------------------------------------------------------------------------------
# marts.clv_model_params
# ------------------------------------------------------------------------------------------
def test_params_rows_map_to_clv_model_params(
    bg_fit: clv.BgNbdFit, gg_fit: clv.GammaGammaFit
) -> None:
    month = date(1997, 9, 1)
    rows = clv.params_rows(bg_fit, month) + clv.params_rows(gg_fit, month)
    assert [(r["model"], r["parameter"]) for r in rows] == [
        ("bg_nbd", "r"),
        ("bg_nbd", "alpha"),
        ("bg_nbd", "a"),
        ("bg_nbd", "b"),
        ("gamma_gamma", "p"),
        ("gamma_gamma", "q"),
        ("gamma_gamma", "gamma"),
    ]
    required = {"snapshot_month", "value", "time_unit", "log_likelihood", "customers_fitted"}
    assert all(required | {"converged", "message", "fallback"} <= row.keys() for row in rows)
    assert rows[1]["value"] == pytest.approx(bg_fit.alpha) and rows[1]["time_unit"] == "week"
    assert rows[0]["customers_fitted"] == 2357 and rows[4]["customers_fitted"] == 946
    assert all(r["snapshot_month"] == month and r["converged"] for r in rows)
    frame = pl.DataFrame(rows)  # straight into a table
    assert frame.height == 7 and frame["value"].is_not_null().all()
