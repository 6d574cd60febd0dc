"""Turn the persons of one chunk into source-system records.

The order of work mirrors reality: people buy (a buy-till-you-die process with seasonality),
some sign up in the CRM, open shop accounts and get loyalty cards, and every system records
its own view of them. The true person travels along in the hidden `_pid` column so the
ground truth comes from exactly the rows that are written.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from ._calendar import DAY, Calendar
from ._persons import (
    CITY_NAMES,
    CITY_REGIONS,
    DESKTOP_OS,
    DEVICES,
    GENDERS,
    MOBILE_OS,
    STORE_COUNTRY,
    STORE_IDS,
    TRUE_PARAMS,
    Persons,
    draw_names,
    draw_postal_codes,
    labels,
    street_text,
)
from ._reference import CATEGORIES, COUNTRIES, PROSPECT_SOURCES, REPORTING_CURRENCY
from ._tables import conform

CHUNK_SIZE = 50_000

COUNTRY_CODES: tuple[str, ...] = tuple(c.code for c in COUNTRIES)
CURRENCIES: tuple[str, ...] = tuple(dict.fromkeys(c.currency for c in COUNTRIES))
_COUNTRY_CURRENCY = np.array([CURRENCIES.index(c.currency) for c in COUNTRIES])
_CITY_COUNTRY = np.array([ci for ci, c in enumerate(COUNTRIES) for _ in c.cities])
_CITY_WEIGHT = np.array([city.weight for c in COUNTRIES for city in c.cities])

# Local-currency shop rules: free shipping from a threshold, else a flat fee (both in cents).
_SHIPPING: dict[str, tuple[int, int]] = {
    "EUR": (4900, 495),
    "CHF": (5900, 690),
    "GBP": (4000, 395),
    "PLN": (19900, 1999),
    "SEK": (49900, 4900),
    "DKK": (37500, 3900),
}
_FREE_FROM = np.array([_SHIPPING[c][0] for c in CURRENCIES])
_FEE = np.array([_SHIPPING[c][1] for c in CURRENCIES])
# Currencies whose shelf prices are whole numbers (349 kr), the others end in .99/.95.
_WHOLE_PRICE = np.array([c in ("SEK", "DKK") for c in CURRENCIES])
_CATEGORY_CODES = tuple(c[0] for c in CATEGORIES)
_CATEGORY_NAMES = tuple(c[1] for c in CATEGORIES)
_TYPICAL_PRICE = np.array([c[2] for c in CATEGORIES])
_OS_NAMES = DESKTOP_OS + MOBILE_OS + ("iPadOS",)
_EVENT_TYPES = (
    "session",
    "product_view",
    "add_to_cart",
    "cart_abandoned",
    "newsletter_open",
    "newsletter_click",
)

# Hour-of-day profiles (relative weights) per channel: lunch and evening online, shop hours
# in store.
_HOURS = {
    "web": np.array(
        [
            1.0,
            0.5,
            0.3,
            0.2,
            0.2,
            0.3,
            0.8,
            1.5,
            2.5,
            3.5,
            4,
            4.5,
            5,
            5,
            4.5,
            4.5,
            5,
            5.5,
            6.5,
            7.5,
            8,
            7,
            5,
            2.5,
        ]
    ),
    "app": np.array(
        [
            1.5,
            0.8,
            0.4,
            0.2,
            0.2,
            0.4,
            1.5,
            3,
            3.5,
            3,
            3,
            3.5,
            4.5,
            4,
            3.5,
            3.5,
            4,
            5,
            6,
            7.5,
            8.5,
            8.5,
            6.5,
            3.5,
        ]
    ),
    "store": np.array(
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 5, 6, 7, 6.5, 6, 6.5, 7.5, 8.5, 8, 5, 0, 0, 0, 0.0]
    ),
}
_EMAIL_VARIANTS = np.array([0.70, 0.10, 0.06, 0.03, 0.05, 0.03, 0.03])


@dataclass
class IdCounters:
    """Running numbers of the ids that are not tied to a person, continued across chunks."""

    orders: int = 0
    transactions: int = 0
    events: int = 0
    prospects: int = 0
    requests: int = 0


@dataclass
class ChunkResult:
    frames: dict[str, pl.DataFrame]
    persons_truth: pl.DataFrame
    currencies: set[str]  # foreign currencies of the chunk's countries


def _prefixed(prefix: str, numbers: np.ndarray) -> pl.Series:
    """Ids like 'W10000042' from integers, vectorised."""
    return pl.select(
        pl.concat_str([pl.lit(prefix), pl.Series(numbers.astype(np.int64)).cast(pl.String)])
    ).to_series()


def _segment_rank(owner: np.ndarray, n: int) -> np.ndarray:
    """Rank of every element within its owner, for arrays sorted by owner."""
    start = np.searchsorted(owner, np.arange(n))
    return np.arange(len(owner)) - start[owner]


def _first_per_owner(owner: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Minimum value per owner (inf where an owner has none)."""
    out = np.full(n, np.inf)
    np.minimum.at(out, owner, values)
    return out


class ChunkBuilder:
    """Simulates one chunk of persons; call `build()` once."""

    def __init__(
        self,
        rng: np.random.Generator,
        persons: Persons,
        cal: Calendar,
        fx: dict[str, np.ndarray],
        chunk_no: int,
        counters: IdCounters,
    ) -> None:
        self.rng = rng
        self.p = persons
        self.cal = cal
        self.fx = fx
        self.chunk_no = chunk_no
        self.counters = counters
        self.end = cal.end_seconds

    # ---------------------------------------------------------------- helpers
    def _hours(self, channel: str, n: int) -> np.ndarray:
        w = _HOURS[channel]
        return self.rng.choice(24, n, p=w / w.sum()) * 3600 + self.rng.integers(0, 3600, n)

    def _store_day(self, day: np.ndarray) -> np.ndarray:
        """Move store visits off closed days: to the previous open day, else the next one."""
        day = day.copy()
        for _ in range(3):
            closed = ~self.cal.store_open[day] & (day > 0)
            day[closed] -= 1
        for _ in range(3):
            closed = ~self.cal.store_open[day]
            day[closed] = np.minimum(day[closed] + 1, self.cal.n_days - 1)
        return day

    def _email_at(self, person: np.ndarray, t: np.ndarray) -> pl.Series:
        """The address a person used at time t (the new one after an e-mail change)."""
        changed = pl.Series(t >= self.email_change_s[person])
        return pl.select(
            pl.when(changed)
            .then(self.p.email_new.gather(person))
            .otherwise(self.p.email.gather(person))
        ).to_series()

    def _typed(self, emails: pl.Series) -> pl.Series:
        """How an address arrives from a form: case and stray spaces vary."""
        v = pl.Series(
            self.rng.choice(
                len(_EMAIL_VARIANTS), len(emails), p=_EMAIL_VARIANTS / _EMAIL_VARIANTS.sum()
            )
        )
        e = emails
        return pl.select(
            pl.when(v == 1)
            .then(e.str.to_lowercase())
            .when(v == 2)
            .then(e.str.to_titlecase())
            .when(v == 3)
            .then(e.str.to_uppercase())
            .when(v == 4)
            .then(pl.concat_str([pl.lit("  "), e, pl.lit(" ")]))
            .when(v == 5)
            .then(pl.concat_str([pl.lit(" "), e.str.to_titlecase(), pl.lit("  ")]))
            .when(v == 6)
            .then(pl.concat_str([e, pl.lit(" ")]))
            .otherwise(e)
        ).to_series()

    def _os(self, person: np.ndarray, device: np.ndarray) -> np.ndarray:
        """Index into _OS_NAMES: the person's desktop or phone OS; tablets follow the phone."""
        mobile = len(DESKTOP_OS) + self.p.mobile_os[person]
        tablet = np.where(self.p.mobile_os[person] == 1, len(_OS_NAMES) - 1, len(DESKTOP_OS))
        return np.where(
            device == 0, self.p.desktop_os[person], np.where(device == 1, mobile, tablet)
        )

    def _money_local(self, eur: np.ndarray, currency: np.ndarray, day: np.ndarray) -> np.ndarray:
        """EUR to local currency (index into CURRENCIES) at the day's rate, not rounded."""
        rate = np.ones(len(eur))
        for ci, cur in enumerate(CURRENCIES):
            if cur in self.fx:
                mask = currency == ci
                rate[mask] = self.fx[cur][day[mask]]
        return eur / rate

    # ---------------------------------------------------------------- purchases
    def _purchases(self) -> None:
        """Buy-till-you-die: first purchase at acquisition, repeats at rate lambda (thinned by
        seasonality) until the customer drops out after repeat number J."""
        p, rng, cal = self.p, self.rng, self.cal
        n = p.n
        smax = cal.season.max()
        buyer = ~p.prospect_only
        exposure = np.maximum(self.end - p.acquired_s, 0) / DAY
        lam = np.minimum(p.lam, 0.35)  # at most a purchase every ~3 days
        count = np.where(buyer, rng.poisson(lam * smax * exposure), 0)
        owner = np.repeat(np.arange(n), count)
        t = p.acquired_s[owner] + rng.random(len(owner)) * (self.end - p.acquired_s[owner])
        keep = rng.random(len(t)) < cal.season[(t // DAY).astype(np.int64)] / smax
        owner, t = owner[keep], t[keep]
        order = np.lexsort((t, owner))
        owner, t = owner[order], t[order]
        rank = _segment_rank(owner, n)
        alive = rank < p.repeats_until_dropout[owner]
        owner, t = owner[alive], t[alive]
        repeats = np.bincount(owner, minlength=n)
        dropped = buyer & (repeats == p.repeats_until_dropout)
        last_repeat = np.full(n, np.nan)
        last_repeat[owner] = t  # sorted by time within owner: the last write wins
        self.dropped_s = np.where(dropped, last_repeat, np.inf)

        first = np.flatnonzero(buyer)
        owner = np.concatenate([first, owner])
        t = np.concatenate([p.acquired_s[first].astype(np.float64), t])
        keep = t < p.erased_s[owner]
        owner, t = owner[keep], t[keep]

        cum = np.cumsum(p.channel_mix[owner], axis=1)
        channel = np.minimum((rng.random(len(owner))[:, None] > cum).sum(axis=1), 2)
        day = (t // DAY).astype(np.int64)
        store = channel == 2
        day[store] = self._store_day(day[store])
        seconds = day * DAY
        for ci, name in enumerate(("web", "app", "store")):
            mask = channel == ci
            seconds[mask] += self._hours(name, int(mask.sum()))
        order = np.lexsort((seconds, owner))
        self.pur_owner = owner[order]
        self.pur_t = seconds[order]
        self.pur_channel = channel[order]
        tp = TRUE_PARAMS
        self.pur_eur = rng.gamma(tp["p_spend"], 1.0 / p.nu[self.pur_owner])
        # The first purchase may have moved by the store/time-of-day rules.
        self.acquired_s = p.acquired_s.astype(np.float64).copy()
        has = np.bincount(self.pur_owner, minlength=n) > 0
        firsts = np.searchsorted(self.pur_owner, np.flatnonzero(has))
        self.acquired_s[has] = self.pur_t[firsts]
        self.n_purchases = np.bincount(self.pur_owner, minlength=n)

    # ---------------------------------------------------------------- identities
    def _identities(self) -> None:
        """CRM membership, shop accounts and loyalty cards."""
        p, rng, n = self.p, self.rng, self.p.n
        buyer = self.n_purchases > 0
        store_share = p.channel_mix[:, 2]
        in_household = (p.household_of >= 0) | np.isin(np.arange(n), p.household_of)
        crm = buyer & ((rng.random(n) < 0.66 + 0.35 * store_share) | in_household)
        at_checkout = (rng.random(n) < 0.55) | in_household
        lag = np.where(at_checkout, -rng.integers(60, 900, n), rng.exponential(90 * DAY, n))
        signup = np.maximum(self.acquired_s + lag, 0)
        crm &= (signup < self.end) & (signup < p.erased_s)
        self.is_crm = crm
        self.signup_s = np.where(crm, np.floor(signup), np.inf)
        # Customer numbers are handed out in signup order within the chunk.
        crm_idx = np.flatnonzero(crm)
        by_signup = crm_idx[np.argsort(self.signup_s[crm_idx], kind="stable")]
        number = np.full(n, -1, dtype=np.int64)
        number[by_signup] = 1_000_000 + self.chunk_no * CHUNK_SIZE + np.arange(len(by_signup))
        self.customer_no = pl.select(
            pl.when(pl.Series(number >= 0)).then(
                pl.concat_str([pl.lit("K"), pl.Series(number).cast(pl.String)])
            )
        ).to_series()

        # E-mail changes (CRM customers outside households), in a later month than signup.
        next_month = self._next_month_start(self.signup_s)
        room = self.end - next_month
        change = crm & ~in_household & (rng.random(n) < 0.13) & (room > DAY)
        self.email_change_s = np.full(n, np.inf)
        self.email_change_s[change] = next_month[change] + np.floor(
            rng.random(change.sum()) * room[change]
        )

        online = buyer & (p.channel_mix[:, :2].sum(axis=1) > 0.02)
        self.wants_account = online & (rng.random(n) < 0.72)
        self.login_rate = rng.beta(6, 1.5, n)
        self.account_linked = crm & (rng.random(n) < 0.8)
        self.email_on_login = rng.choice([1.0, 0.4, 0.0], n, p=[0.5, 0.3, 0.2])
        account_perm = rng.permutation(CHUNK_SIZE)[:n]
        self.account_id = _prefixed("A", 20_000_000 + self.chunk_no * CHUNK_SIZE + account_perm)

        # Loyalty cards for store-going CRM customers; a few lose theirs and get a second.
        card = crm & (store_share > 0.1) & (p.home_store >= 0) & (rng.random(n) < 0.85)
        self.card1_s = np.where(card, self.signup_s, np.inf)
        room2 = self.end - (self.card1_s + 60 * DAY)
        second = card & (rng.random(n) < 0.05) & (room2 > DAY) & (p.erased_s > self.end)
        self.card2_s = np.full(n, np.inf)
        self.card2_s[second] = (
            self.card1_s[second] + 60 * DAY + np.floor(rng.random(second.sum()) * room2[second])
        )
        self.card_usage = np.where(rng.random(n) < 0.2, rng.beta(1.5, 1.5, n), rng.beta(6, 1.2, n))
        card_perm = rng.permutation(2 * CHUNK_SIZE)[: 2 * n]
        base = 400_000_000 + self.chunk_no * 2 * CHUNK_SIZE
        self.card1_no = _prefixed("L", base + card_perm[:n])
        self.card2_no = _prefixed("L", base + card_perm[n:])

    def _next_month_start(self, seconds: np.ndarray) -> np.ndarray:
        """Start (seconds) of the month after the one containing `seconds` (inf stays inf)."""
        out = np.full(len(seconds), np.inf)
        ok = np.isfinite(seconds) & (seconds < self.end)
        month = self.cal.month_of(seconds[ok].astype(np.int64))
        first_days = np.searchsorted(self.cal.day_month, np.arange(self.cal.n_months + 1))
        out[ok] = first_days[month + 1] * DAY
        return out

    # ---------------------------------------------------------------- shop
    def _shop(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        p, rng, cal = self.p, self.rng, self.cal
        sel = self.pur_channel < 2
        owner, t, eur = self.pur_owner[sel], self.pur_t[sel], self.pur_eur[sel]
        channel = self.pur_channel[sel]
        order = np.argsort(t, kind="stable")
        owner, t, eur, channel = owner[order], t[order], eur[order], channel[order]
        m = len(owner)

        logged = self.wants_account[owner] & (rng.random(m) < self.login_rate[owner])
        created = _first_per_owner(owner[logged], t[logged].astype(np.float64), p.n)
        self.account_created_s = created
        with_customer_no = logged & self.account_linked[owner] & (t >= self.signup_s[owner])
        # Registering an account takes an e-mail, so an account's first order always carries it;
        # later logged-in orders carry it only as often as this person's shop habit has it.
        first_login = logged & (t == created[owner])
        with_email = ~logged | first_login | (rng.random(m) < self.email_on_login[owner])

        numbers = 10_000_000 + self.counters.orders + np.arange(m)
        self.counters.orders += m
        order_id = _prefixed("W", numbers)

        emails = self._typed(self._email_at(owner, t))
        device = np.where(
            channel == 1,
            np.where(p.device[owner] == 2, 2, 1),
            np.where(rng.random(m) < 0.75, p.device[owner], rng.choice(3, m, p=[0.45, 0.45, 0.1])),
        )
        u = rng.random(m)
        status = np.where(u < 0.03, 1, np.where(u < 0.03 + p.return_rate[owner], 2, 0))
        currency = _COUNTRY_CURRENCY[p.country[owner]]
        day = t // DAY

        # Basket: 1-5 lines; categories from the person's taste, prices per category.
        n_lines = 1 + np.minimum(4, rng.poisson(np.maximum(eur - 25, 0) / 55))
        line_order = np.repeat(np.arange(m), n_lines)
        line_no = _segment_rank(line_order, m) + 1
        cum = np.cumsum(p.category_pref[owner[line_order]], axis=1)
        category = np.minimum(
            (rng.random(len(line_order))[:, None] > cum).sum(axis=1), len(CATEGORIES) - 1
        )
        typical = _TYPICAL_PRICE[category]
        weight = rng.gamma(2.0, 1.0, len(line_order)) * typical
        share = weight / np.bincount(line_order, weights=weight, minlength=m)[line_order]
        quantity = rng.choice([1, 2, 3], len(line_order), p=[0.82, 0.13, 0.05])
        local = self._money_local(eur[line_order] * share, currency[line_order], day[line_order])
        unit = np.maximum(local / quantity, 0.5)
        whole = _WHOLE_PRICE[currency[line_order]]
        ends95 = rng.random(len(unit)) < 0.3
        price_cents = np.where(
            whole, np.ceil(unit) * 100, np.ceil(unit) * 100 - np.where(ends95, 5, 1)
        ).astype(np.int64)
        subtotal = np.bincount(line_order, weights=price_cents * quantity, minlength=m)
        amount_cents = subtotal + np.where(subtotal < _FREE_FROM[currency], _FEE[currency], 0)

        pid = p.person_id.gather(owner)
        month = cal.month_of(t)
        orders = conform(
            "shop_orders",
            {
                "order_id": order_id,
                "ordered_at": cal.to_datetime(t),
                "customer_no": pl.select(
                    pl.when(pl.Series(with_customer_no)).then(self.customer_no.gather(owner))
                ).to_series(),
                "shop_account_id": pl.select(
                    pl.when(pl.Series(logged)).then(self.account_id.gather(owner))
                ).to_series(),
                "email": pl.select(pl.when(pl.Series(with_email)).then(emails)).to_series(),
                "channel": labels(("web", "app"), channel),
                "device": labels(DEVICES, device),
                "amount": amount_cents / 100.0,
                "currency": labels(CURRENCIES, currency),
                "status": labels(("completed", "cancelled", "returned"), status),
            },
            month,
            pid,
        )
        product_no = np.floor(3000 * rng.random(len(line_order)) ** 2.5).astype(np.int64)
        lines = conform(
            "order_lines",
            {
                "order_id": order_id.gather(line_order),
                "line_no": line_no,
                "product_id": pl.select(
                    pl.concat_str(
                        [
                            labels(_CATEGORY_CODES, category),
                            pl.lit("-"),
                            pl.Series(product_no).cast(pl.String).str.zfill(5),
                        ]
                    )
                ).to_series(),
                "category": labels(_CATEGORY_NAMES, category),
                "quantity": quantity,
                "unit_price": price_cents / 100.0,
            },
            month[line_order],
            pid.gather(line_order),
        )
        self.shop_device = device
        self.shop_owner, self.shop_t, self.shop_logged = owner, t, logged
        return orders, lines

    # ---------------------------------------------------------------- store
    def _store(self) -> pl.DataFrame:
        p, rng, cal = self.p, self.rng, self.cal
        sel = self.pur_channel == 2
        owner, t, eur = self.pur_owner[sel], self.pur_t[sel], self.pur_eur[sel]
        m = len(owner)
        store = p.home_store[owner].copy()
        away = rng.random(m) < 0.1
        for s in np.unique(store[away]):
            # an occasional visit to another store of the same country
            idx = np.flatnonzero(away & (store == s))
            options = np.flatnonzero(STORE_COUNTRY[s] == STORE_COUNTRY)
            store[idx] = options[rng.integers(0, len(options), len(idx))]
        card_used = (t >= self.card1_s[owner]) & (rng.random(m) < self.card_usage[owner])

        # Returns: a later transaction at the same store, with the card if the sale had one.
        ret = rng.random(m) < p.return_rate[owner] * 0.8
        r_idx = np.flatnonzero(ret)
        r_day = self._store_day(
            np.minimum((t[r_idx] // DAY) + rng.integers(1, 22, len(r_idx)), cal.n_days - 1)
        )
        r_t = r_day * DAY + self._hours("store", len(r_idx))
        ok = (r_t > t[r_idx]) & (r_t < p.erased_s[owner[r_idx]])
        r_idx, r_t = r_idx[ok], r_t[ok]
        partial = rng.random(len(r_idx)) < 0.3
        r_eur = eur[r_idx] * np.where(partial, rng.uniform(0.2, 0.8, len(r_idx)), 1.0)
        r_card = card_used[r_idx] & (rng.random(len(r_idx)) < 0.9)

        all_owner = np.concatenate([owner, owner[r_idx]])
        all_t = np.concatenate([t, r_t])
        all_eur = np.concatenate([eur, r_eur])
        all_store = np.concatenate([store, store[r_idx]])
        all_card = np.concatenate([card_used, r_card])
        is_return = np.concatenate([np.zeros(m, bool), np.ones(len(r_idx), bool)])
        order = np.argsort(all_t, kind="stable")
        all_owner, all_t, all_eur = all_owner[order], all_t[order], all_eur[order]
        all_store, all_card, is_return = all_store[order], all_card[order], is_return[order]
        k = len(all_owner)

        numbers = 50_000_000 + self.counters.transactions + np.arange(k)
        self.counters.transactions += k
        currency = _COUNTRY_CURRENCY[p.country[all_owner]]
        local = self._money_local(all_eur, currency, all_t // DAY)
        card_no = pl.select(
            pl.when(pl.Series(all_t >= self.card2_s[all_owner]))
            .then(self.card2_no.gather(all_owner))
            .otherwise(self.card1_no.gather(all_owner))
        ).to_series()
        pid = p.person_id.gather(all_owner)
        return conform(
            "store_transactions",
            {
                "transaction_id": _prefixed("T", numbers),
                "transacted_at": cal.to_datetime(all_t),
                "store_id": labels(STORE_IDS, all_store),
                "loyalty_card_no": pl.select(
                    pl.when(pl.Series(all_card)).then(card_no)
                ).to_series(),
                "amount": np.round(local, 2),
                "currency": labels(CURRENCIES, currency),
                "is_return": is_return,
            },
            cal.month_of(all_t),
            pl.select(pl.when(pl.Series(all_card)).then(pid)).to_series(),
        )

    def _loyalty_cards(self) -> pl.DataFrame:
        p, cal = self.p, self.cal
        first = np.flatnonzero(np.isfinite(self.card1_s))
        second = np.flatnonzero(np.isfinite(self.card2_s))
        owner = np.concatenate([first, second])
        t = np.concatenate([self.card1_s[first], self.card2_s[second]]).astype(np.int64)
        numbers = pl.concat([self.card1_no.gather(first), self.card2_no.gather(second)])
        order = np.argsort(t, kind="stable")
        owner, t, numbers = owner[order], t[order], numbers.gather(order)
        return conform(
            "loyalty_cards",
            {
                "loyalty_card_no": numbers,
                "customer_no": self.customer_no.gather(owner),
                "issued_at": cal.to_datetime(t),
            },
            cal.month_of(t),
            p.person_id.gather(owner),
        )

    # ---------------------------------------------------------------- CRM
    def _crm(self) -> pl.DataFrame:
        """A full row at signup and one per later change (a CRM export of every version)."""
        p, rng, cal, n = self.p, self.rng, self.cal, self.p.n
        crm = self.is_crm
        next_month = self._next_month_start(self.signup_s)
        room = self.end - next_month

        def when(share: float, eligible: np.ndarray) -> np.ndarray:
            out = np.full(n, np.inf)
            hit = eligible & (rng.random(n) < share) & (room > DAY)
            out[hit] = next_month[hit] + np.floor(rng.random(hit.sum()) * room[hit])
            return out

        move_s = when(0.07, crm & (p.household_of < 0))
        optin_s = when(0.15, crm)
        phone_s = when(0.08, crm)
        # Lapsed customers sometimes end their membership some weeks after their last buy.
        end_s = np.full(n, np.inf)
        lapsed = crm & np.isfinite(self.dropped_s) & (rng.random(n) < 0.2)
        cand = self.dropped_s + rng.uniform(30, 200, n) * DAY
        cand = np.where(cand < next_month, next_month + rng.uniform(0, 20, n) * DAY, cand)
        ok = lapsed & (cand < self.end)
        end_s[ok] = np.floor(cand[ok])

        times = np.column_stack(
            [self.signup_s, self.email_change_s, move_s, optin_s, phone_s, end_s]
        )
        times = np.where(times < p.erased_s[:, None], times, np.inf)
        owner, col = np.nonzero(np.isfinite(times) & crm[:, None])
        t = times[owner, col]
        order = np.lexsort((t, owner))
        owner, t = owner[order], t[order]
        # Strictly increasing per customer, even if two changes fall in the same second.
        t = t.astype(np.int64) + _segment_rank(owner, n)
        order = np.argsort(t, kind="stable")  # the export lists versions by time
        owner, t = owner[order], t[order]

        opt_in0 = rng.random(n) < 0.55
        has_phone0 = rng.random(n) < 0.55
        has_birth = rng.random(n) < 0.88
        new_city = np.empty(n, dtype=np.int64)
        for ci in range(len(COUNTRIES)):
            mask = np.flatnonzero(p.country == ci)
            cand_cities = np.flatnonzero(ci == _CITY_COUNTRY)
            w = _CITY_WEIGHT[cand_cities] / _CITY_WEIGHT[cand_cities].sum()
            new_city[mask] = cand_cities[rng.choice(len(cand_cities), len(mask), p=w)]
        new_street = street_text(draw_names(rng, p.country, p.gender), p.country)
        new_postal = draw_postal_codes(rng, new_city)

        moved = t >= move_s[owner]
        opted = (t >= optin_s[owner]) ^ opt_in0[owner]
        ended = t >= end_s[owner]
        phone = pl.select(
            pl.when(pl.Series(has_phone0[owner] | (t >= phone_s[owner]))).then(
                p.phone.gather(owner)
            )
        ).to_series()
        city = np.where(moved, new_city[owner], p.city[owner])
        gender = labels(GENDERS, p.gender[owner])
        self.opt_in0, self.optin_s, self.end_s = opt_in0, optin_s, end_s
        return conform(
            "crm_customers",
            {
                "customer_no": self.customer_no.gather(owner),
                "first_name": p.first_name.gather(owner),
                "last_name": p.last_name.gather(owner),
                "email": self._email_at(owner, t),
                "phone": phone,
                "birth_date": np.where(
                    has_birth[owner], p.birth_day[owner], np.datetime64("NaT", "D")
                ),
                # the CRM leaves gender empty when it is not known
                "gender": pl.select(pl.when(gender != "unknown").then(gender)).to_series(),
                "street": pl.select(
                    pl.when(pl.Series(moved))
                    .then(new_street.gather(owner))
                    .otherwise(p.street.gather(owner))
                ).to_series(),
                "postal_code": pl.select(
                    pl.when(pl.Series(moved))
                    .then(new_postal.gather(owner))
                    .otherwise(p.postal_code.gather(owner))
                ).to_series(),
                "city": labels(CITY_NAMES, city),
                "region": labels(CITY_REGIONS, city),
                "country": labels(COUNTRY_CODES, p.country[owner]),
                "signup_date": cal.to_date(self.signup_s[owner].astype(np.int64)),
                "marketing_opt_in": opted & ~ended,
                "contract_end_date": np.where(
                    ended,
                    cal.to_date(np.where(ended, end_s[owner], 0).astype(np.int64)),
                    np.datetime64("NaT", "D"),
                ),
                "updated_at": cal.to_datetime(t),
            },
            cal.month_of(t),
            p.person_id.gather(owner),
        )

    # ---------------------------------------------------------------- prospects
    def _prospects(self) -> pl.DataFrame:
        p, rng, cal, n = self.p, self.rng, self.cal, self.p.n
        lead = p.prospect_only
        # Some buyers were leads first (a newsletter sign-up or a fair) before they bought.
        converted = ~lead & (rng.random(n) < 0.25) & (self.n_purchases > 0)
        before = self.acquired_s - rng.uniform(3, 150, n) * DAY
        before = np.where(before < 0, rng.random(n) * self.acquired_s, before)
        first_t = np.where(lead, p.acquired_s, np.where(converted, before, np.inf))
        first_t = np.where(first_t < p.erased_s, first_t, np.inf)
        # A few leads register twice through another channel.
        again = np.isfinite(first_t) & (rng.random(n) < 0.06)
        second_t = np.where(again, first_t + rng.uniform(10, 300, n) * DAY, np.inf)
        second_t = np.where((second_t < self.end) & (second_t < p.erased_s), second_t, np.inf)
        owner = np.concatenate(
            [np.flatnonzero(np.isfinite(first_t)), np.flatnonzero(np.isfinite(second_t))]
        )
        t = np.concatenate([first_t[np.isfinite(first_t)], second_t[np.isfinite(second_t)]])
        t = np.floor(t).astype(np.int64)
        order = np.argsort(t, kind="stable")
        owner, t = owner[order], t[order]
        k = len(owner)
        src_names = tuple(s for s, _ in PROSPECT_SOURCES)
        src_w = np.array([w for _, w in PROSPECT_SOURCES])
        source = rng.choice(len(src_names), k, p=src_w / src_w.sum())
        # newsletter subscription of leads (used by the web events)
        nl = np.isin(source, [src_names.index("newsletter"), src_names.index("sweepstakes")])
        self.lead_nl_s = _first_per_owner(owner[nl], t[nl].astype(np.float64), n)
        self.lead_s = _first_per_owner(owner, t.astype(np.float64), n)

        numbers = 1_000_000 + self.counters.prospects + np.arange(k)
        self.counters.prospects += k
        birth_year = p.birth_day[owner].astype("datetime64[Y]").astype(int) + 1970
        return conform(
            "prospects",
            {
                "prospect_id": _prefixed("P", numbers),
                "email": self._typed(self._email_at(owner, t)),
                "postal_code": pl.select(
                    pl.when(pl.Series(rng.random(k) < 0.65)).then(p.postal_code.gather(owner))
                ).to_series(),
                "country": pl.select(
                    pl.when(pl.Series(rng.random(k) < 0.9)).then(
                        labels(COUNTRY_CODES, p.country[owner])
                    )
                ).to_series(),
                "birth_year": pl.select(
                    pl.when(pl.Series(rng.random(k) < 0.45)).then(pl.Series(birth_year))
                ).to_series(),
                "source": labels(src_names, source),
                "created_at": cal.to_datetime(t),
            },
            cal.month_of(t),
            p.person_id.gather(owner),
        )

    # ---------------------------------------------------------------- web events
    def _web_events(self) -> pl.DataFrame:
        p, rng, cal, n = self.p, self.rng, self.cal, self.p.n
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]] = []
        # (owner, t, type, device, logged-in, kind) kind: 0 browse, 1 newsletter, 2 anonymous

        # Sessions that end in an order: views, add_to_cart, then the order itself.
        o_owner, o_t, o_logged = self.shop_owner, self.shop_t, self.shop_logged
        o_dev = self.shop_device
        views = 1 + rng.poisson(1.5, len(o_owner))
        start = o_t - rng.integers(5 * 60, 40 * 60, len(o_owner))
        per = 2 + views
        idx = np.repeat(np.arange(len(o_owner)), per)
        rank = _segment_rank(idx, len(o_owner))
        span = (o_t - start)[idx]
        t = np.where(
            rank == 0,
            start[idx],
            np.where(
                rank == per[idx] - 1,
                o_t[idx] - rng.integers(20, 120, len(idx)),
                start[idx] + rng.random(len(idx)) * span * 0.9,
            ),
        )
        etype = np.where(rank == 0, 0, np.where(rank == per[idx] - 1, 2, 1))
        parts.append((o_owner[idx], t, etype, o_dev[idx], o_logged[idx], 0))

        # Browsing without buying, while the customer is alive (and a bit before the first
        # purchase); leads look around for a while after they sign up.
        alive_end = np.where(
            np.isfinite(self.dropped_s), self.dropped_s + rng.exponential(30 * DAY, n), self.end
        )
        win_start = np.where(
            self.n_purchases > 0, np.maximum(self.acquired_s - 14 * DAY, 0), p.acquired_s
        )
        win_end = np.where(
            self.n_purchases > 0,
            np.minimum(alive_end, self.end),
            np.minimum(p.acquired_s + 60 * DAY, self.end),
        )
        win_end = np.minimum(win_end, p.erased_s)
        online = p.channel_mix[:, :2].sum(axis=1)
        rate = np.where(
            self.n_purchases > 0, (0.8 * np.minimum(p.lam, 0.35) + 0.0015) * online, 0.04
        )
        sessions = rng.poisson(rate * np.maximum(win_end - win_start, 0) / DAY)
        s_owner = np.repeat(np.arange(n), sessions)
        s_t = win_start[s_owner] + rng.random(len(s_owner)) * (win_end - win_start)[s_owner]
        s_dev = np.where(
            rng.random(len(s_owner)) < 0.7,
            p.device[s_owner],
            rng.choice(3, len(s_owner), p=[0.4, 0.5, 0.1]),
        )
        s_logged = (s_t >= self.account_created_s[s_owner]) & (
            rng.random(len(s_owner)) < self.login_rate[s_owner]
        )
        parts.extend(self._sessions(s_owner, s_t, s_dev, s_logged, 0))

        # Newsletters every other Thursday 10:00; opens and clicks of subscribers.
        nl_start, nl_end = self._newsletter_window()
        thursdays = np.flatnonzero((np.arange(cal.n_days) + (cal.start.astype(int) + 3)) % 7 == 3)
        sends = thursdays[::2] * DAY + 10 * 3600
        k0 = np.searchsorted(sends, nl_start)
        k1 = np.searchsorted(sends, nl_end)
        count = np.maximum(k1 - k0, 0)
        sub = np.repeat(np.arange(n), count)
        send_t = sends[k0[sub] + _segment_rank(sub, n)]
        open_rate = rng.beta(1.5, 6.0, n)
        dormant = send_t > self.dropped_s[sub]
        opened = rng.random(len(sub)) < open_rate[sub] * np.where(dormant, 0.3, 1.0)
        sub, send_t = sub[opened], send_t[opened]
        open_t = send_t + rng.exponential(6 * 3600, len(sub))
        clicked = rng.random(len(sub)) < rng.beta(1.0, 3.0, n)[sub]
        nl_owner = np.concatenate([sub, sub[clicked]])
        nl_t = np.concatenate([open_t, open_t[clicked] + rng.integers(10, 300, clicked.sum())])
        nl_type = np.concatenate([np.full(len(sub), 4), np.full(clicked.sum(), 5)])
        nl_dev = np.where(
            p.device[nl_owner] == 0,
            np.where(rng.random(len(nl_owner)) < 0.6, 0, 1),
            p.device[nl_owner],
        )
        parts.append((nl_owner, nl_t, nl_type, nl_dev, np.zeros(len(nl_owner), bool), 1))

        # Anonymous visitors who never identify themselves.
        growth = cal.season * np.exp(np.log(1.4) / 365 * np.arange(cal.n_days))
        n_anon = rng.poisson(0.5 * n * cal.n_days / 365)
        a_day = rng.choice(cal.n_days, n_anon, p=growth / growth.sum())
        a_t = a_day * DAY + self._hours("web", n_anon)
        a_dev = rng.choice(3, n_anon, p=[0.35, 0.55, 0.1])
        parts.extend(self._sessions(np.full(n_anon, -1), a_t, a_dev, np.zeros(n_anon, bool), 2))

        owner = np.concatenate([x[0] for x in parts])
        t = np.floor(np.concatenate([x[1] for x in parts])).astype(np.int64)
        etype = np.concatenate([x[2] for x in parts])
        device = np.concatenate([x[3] for x in parts])
        logged = np.concatenate([x[4] for x in parts])
        kind = np.concatenate([np.full(len(x[0]), x[5]) for x in parts])
        keep = (t >= 0) & (t < self.end)
        known = owner >= 0
        keep &= ~known | (t < p.erased_s[np.maximum(owner, 0)])
        owner, t, etype, device, logged, kind = (
            a[keep] for a in (owner, t, etype, device, logged, kind)
        )
        order = np.argsort(t, kind="stable")
        owner, t, etype, device, logged, kind = (
            a[order] for a in (owner, t, etype, device, logged, kind)
        )
        k = len(owner)
        safe = np.maximum(owner, 0)
        known = owner >= 0
        numbers = 100_000_000 + self.counters.events + np.arange(k)
        self.counters.events += k
        # Anonymous visitors: OS by market share, consistent with the device.
        anon_os = np.where(
            device == 0,
            rng.choice(3, k, p=[0.75, 0.22, 0.03]),
            np.where(
                device == 1,
                3 + rng.choice(2, k, p=[0.6, 0.4]),
                rng.choice([3, 5], k, p=[0.35, 0.65]),
            ),
        )
        os_code = np.where(known, self._os(safe, device), anon_os)
        newsletter = np.flatnonzero(kind == 1)
        # mailing tools store addresses in lower case
        nl_email = pl.Series("email", [None] * k, pl.String).scatter(
            newsletter, self._email_at(owner[newsletter], t[newsletter]).str.to_lowercase()
        )
        pid = p.person_id.gather(safe)
        return conform(
            "web_events",
            {
                "event_id": _prefixed("E", numbers),
                "occurred_at": cal.to_datetime(t),
                "shop_account_id": pl.select(
                    pl.when(pl.Series(logged & known)).then(self.account_id.gather(safe))
                ).to_series(),
                "email": nl_email,
                "event_type": labels(_EVENT_TYPES, etype),
                "device": labels(DEVICES, device),
                "os": labels(_OS_NAMES, os_code),
            },
            cal.month_of(t),
            pl.select(pl.when(pl.Series(known)).then(pid)).to_series(),
        )

    def _sessions(
        self,
        owner: np.ndarray,
        start: np.ndarray,
        device: np.ndarray,
        logged: np.ndarray,
        kind: int,
    ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]]:
        """Session start, product views, maybe add_to_cart and a later cart_abandoned."""
        rng = self.rng
        m = len(owner)
        views = 1 + rng.poisson(1.0, m)
        cart = rng.random(m) < 0.3
        abandoned = cart & (rng.random(m) < 0.75)
        per = 1 + views + cart + abandoned
        idx = np.repeat(np.arange(m), per)
        rank = _segment_rank(idx, m)
        step = np.cumsum(rng.exponential(90, len(idx)))
        base = np.repeat(step[np.cumsum(per) - per], per) if len(idx) else step
        t = start[idx] + (step - base)
        etype = np.where(rank == 0, 0, np.where(rank <= views[idx], 1, 2))
        last = rank == per[idx] - 1
        is_abandon = last & abandoned[idx]
        etype = np.where(is_abandon, 3, etype)
        t = np.where(is_abandon, t + rng.integers(30 * 60, 180 * 60, len(idx)), t)
        return [(owner[idx], t, etype, device[idx], logged[idx], kind)]

    def _newsletter_window(self) -> tuple[np.ndarray, np.ndarray]:
        """When each person receives the newsletter: CRM opt-in, or a lead's sign-up."""
        n = self.p.n
        crm_start = np.where(
            self.opt_in0, self.signup_s, np.where(np.isfinite(self.optin_s), self.optin_s, np.inf)
        )
        crm_end = np.where(self.opt_in0, np.minimum(self.optin_s, self.end_s), self.end_s)
        start = np.where(self.is_crm, crm_start, np.inf)
        end = np.where(self.is_crm, crm_end, -np.inf)
        lead = np.isfinite(self.lead_nl_s)
        start = np.where(lead, np.minimum(start, self.lead_nl_s), start)
        end = np.where(lead & ~self.is_crm, np.inf, end)
        end = np.where(
            lead & self.is_crm & ~self.opt_in0 & ~np.isfinite(self.optin_s), self.signup_s, end
        )
        # Guests may tick the newsletter box at checkout.
        guest = ~self.is_crm & ~lead & (self.n_purchases > 0) & (self.rng.random(n) < 0.2)
        start = np.where(guest, self.acquired_s, start)
        end = np.where(guest, np.inf, end)
        end = np.minimum(np.minimum(end, self.end), self.p.erased_s)
        return start, end

    # ---------------------------------------------------------------- erasure
    def _erasure(self) -> pl.DataFrame:
        p, rng, cal = self.p, self.rng, self.cal
        owner = np.flatnonzero(np.isfinite(p.erased_s))
        t = np.floor(p.erased_s[owner]).astype(np.int64)
        order = np.argsort(t, kind="stable")
        owner, t = owner[order], t[order]
        k = len(owner)
        crm = self.is_crm[owner] & (self.signup_s[owner] < t)
        how = rng.random(k)  # both identifiers, only the customer number, only the e-mail
        with_no = crm & (how < 0.85)
        with_mail = ~crm | (how < 0.6) | (how >= 0.85)
        numbers = 10_000 + self.counters.requests + np.arange(k)
        self.counters.requests += k
        return conform(
            "erasure_requests",
            {
                "request_id": _prefixed("R", numbers),
                "customer_no": pl.select(
                    pl.when(pl.Series(with_no)).then(self.customer_no.gather(owner))
                ).to_series(),
                "email": pl.select(
                    pl.when(pl.Series(with_mail)).then(self._email_at(owner, t).str.to_lowercase())
                ).to_series(),
                "requested_at": cal.to_datetime(t),
            },
            cal.month_of(t),
            p.person_id.gather(owner),
        )

    # ---------------------------------------------------------------- truth
    def _persons_truth(self) -> pl.DataFrame:
        p, cal = self.p, self.cal
        rate_year = p.lam * 365
        mean_spend = TRUE_PARAMS["p_spend"] / p.nu
        archetype = np.select(
            [
                p.prospect_only,
                (rate_year >= 6) & (p.p_dropout < 0.3) & (mean_spend >= 100),
                (rate_year >= 6) & (p.p_dropout < 0.3),
                p.p_dropout >= 0.5,
                rate_year >= 1,
            ],
            ["lead", "vip", "loyal_regular", "lapsing", "occasional"],
            "one_timer",
        )

        def ts(values: np.ndarray) -> pl.Series:
            finite = np.isfinite(values)
            secs = np.where(finite, values, 0).astype(np.int64)
            return pl.Series(np.where(finite, cal.to_datetime(secs), np.datetime64("NaT", "us")))

        has_account = np.isfinite(self.account_created_s)
        primary = p.household_of
        return pl.DataFrame(
            {
                "person_id": p.person_id,
                "archetype": archetype,
                "country": labels(COUNTRY_CODES, p.country),
                "city": labels(CITY_NAMES, p.city),
                "region": labels(CITY_REGIONS, p.city),
                "postal_code": p.postal_code,
                "gender": labels(GENDERS, p.gender),
                "birth_date": p.birth_day,
                "email": p.email.str.to_lowercase(),
                "email_after_change": pl.select(
                    pl.when(pl.Series(np.isfinite(self.email_change_s))).then(
                        p.email_new.str.to_lowercase()
                    )
                ).to_series(),
                "email_changed_at": ts(self.email_change_s),
                "acquired_at": ts(np.where(self.n_purchases > 0, self.acquired_s, p.acquired_s)),
                "lambda_per_day": p.lam,
                "p_dropout": p.p_dropout,
                "repeats_until_dropout": p.repeats_until_dropout,
                "dropped_out_at": ts(self.dropped_s),
                "alive_at_end": (self.n_purchases > 0) & ~np.isfinite(self.dropped_s),
                "spend_nu": p.nu,
                "mean_spend_eur": mean_spend,
                "return_rate": p.return_rate,
                "share_web": p.channel_mix[:, 0],
                "share_app": p.channel_mix[:, 1],
                "share_store": p.channel_mix[:, 2],
                "preferred_device": labels(DEVICES, p.device),
                "top_category": labels(_CATEGORY_NAMES, p.category_pref.argmax(axis=1)),
                "n_purchases": self.n_purchases,
                "prospect_only": p.prospect_only,
                "is_prospect": np.isfinite(self.lead_s),
                "is_crm": self.is_crm,
                "customer_no": self.customer_no,
                "signup_at": ts(self.signup_s),
                "shop_account_id": pl.select(
                    pl.when(pl.Series(has_account)).then(self.account_id)
                ).to_series(),
                "has_loyalty_card": np.isfinite(self.card1_s),
                "household_primary_id": pl.select(
                    pl.when(pl.Series(primary >= 0)).then(
                        p.person_id.gather(np.maximum(primary, 0))
                    )
                ).to_series(),
                "erased_at": ts(p.erased_s),
            }
        )

    def build(self) -> ChunkResult:
        self._purchases()
        self._identities()
        orders, lines = self._shop()
        frames = {
            "crm_customers": self._crm(),
            "shop_orders": orders,
            "order_lines": lines,
            "store_transactions": self._store(),
            "loyalty_cards": self._loyalty_cards(),
            "prospects": self._prospects(),
        }
        frames["web_events"] = self._web_events()
        frames["erasure_requests"] = self._erasure()
        currencies = {CURRENCIES[c] for c in _COUNTRY_CURRENCY[np.unique(self.p.country)]}
        currencies.discard(REPORTING_CURRENCY)
        return ChunkResult(frames, self._persons_truth(), currencies)
