"""Draw the people of one chunk: who they are, where they live, how they shop.

Purchase behaviour follows the buy-till-you-die assumptions the value models of the warehouse
make (Pareto/NBD-BG/NBD for the transaction process, gamma-gamma for spend), so later tests can
check that the fitted parameters land near the ones drawn here (see `TRUE_PARAMS`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from ._calendar import DAY, Calendar
from ._reference import (
    CATEGORIES,
    COUNTRIES,
    EMAIL_DOMAINS,
    NAMES,
    STREETS,
    TRANSLITERATION,
)

# Population parameters (time unit: day). BG/NBD: lambda ~ Gamma(r, rate=alpha),
# p ~ Beta(a, b); gamma-gamma: spend ~ Gamma(p_spend, rate=nu), nu ~ Gamma(q, rate=gamma).
TRUE_PARAMS: dict[str, float] = {
    "r": 0.55,
    "alpha": 28.0,
    "a": 0.8,
    "b": 2.6,
    "p_spend": 4.0,
    "q_spend": 3.5,
    "gamma_spend": 45.0,
}
PROSPECT_ONLY_SHARE = 0.15
HOUSEHOLD_SHARE = 0.012  # share of persons who share a primary's e-mail (~2% of CRM customers)
ERASURE_SHARE = 0.001
YEARLY_GROWTH = 1.4  # new customers per day grow 40% a year

GENDERS = ("f", "m", "d", "unknown")
DEVICES = ("desktop", "mobile", "tablet")
DESKTOP_OS = ("Windows", "macOS", "Linux")
MOBILE_OS = ("Android", "iOS")
CHANNELS = ("web", "app", "store")

# Flattened city table: one row per city of every country.
_CITY_COUNTRY = np.array([ci for ci, c in enumerate(COUNTRIES) for _ in c.cities])
_CITY_WEIGHT = np.array([city.weight for c in COUNTRIES for city in c.cities])
_CITY_STORE = np.array([city.has_store for c in COUNTRIES for city in c.cities])
_COUNTRY_HAS_STORE = np.array([any(city.has_store for city in c.cities) for c in COUNTRIES])
_COUNTRY_WEIGHT = np.array([c.weight for c in COUNTRIES]) / sum(c.weight for c in COUNTRIES)


@dataclass
class Persons:
    """Attributes of the persons of one chunk, as parallel arrays (index = local person)."""

    n: int
    person_id: pl.Series
    country: np.ndarray  # index into COUNTRIES
    city: np.ndarray  # index into the flattened city table
    postal_code: pl.Series
    street: pl.Series
    first_name: pl.Series
    last_name: pl.Series
    phone: pl.Series
    email: pl.Series  # as the person types it at signup (mostly lower case)
    email_new: pl.Series  # the address after an e-mail change (used only if they change)
    gender: np.ndarray  # index into GENDERS
    birth_day: np.ndarray  # datetime64[D]
    channel_mix: np.ndarray  # (n, 3) web/app/store shares
    device: np.ndarray  # preferred device, index into DEVICES
    desktop_os: np.ndarray
    mobile_os: np.ndarray
    category_pref: np.ndarray  # (n, len(CATEGORIES))
    home_store: np.ndarray  # index into the store table, -1 if none in the country
    prospect_only: np.ndarray  # leads that never buy
    acquired_s: np.ndarray  # first contact (first purchase or lead), seconds since start
    lam: np.ndarray  # purchases per day while alive
    p_dropout: np.ndarray
    repeats_until_dropout: np.ndarray  # J ~ Geometric(p): drops out right after repeat J
    nu: np.ndarray  # spend rate; mean spend per order = p_spend / nu (EUR)
    return_rate: np.ndarray
    household_of: np.ndarray  # local index of the primary whose e-mail is shared, -1 if none
    erased_s: np.ndarray  # right-to-be-forgotten request time, +inf if none


def store_table() -> tuple[list[str], np.ndarray, np.ndarray]:
    """Stores: one per city flagged `has_store`; (store ids, country index, city index)."""
    ids: list[str] = []
    countries: list[int] = []
    cities: list[int] = []
    flat = 0
    for ci, country in enumerate(COUNTRIES):
        number = 0
        for city in country.cities:
            if city.has_store:
                number += 1
                ids.append(f"S{country.code}{number:03d}")
                countries.append(ci)
                cities.append(flat)
            flat += 1
    return ids, np.array(countries), np.array(cities)


_STORE_IDS, _STORE_COUNTRY, _STORE_CITY = store_table()


# Flat name tables, so a person's names are one integer index each (vectorised gathers).
_LANGS = tuple(NAMES)
_LANG_OF_COUNTRY = np.array([_LANGS.index(c.names) for c in COUNTRIES])
_FIRST_NAMES = tuple(name for lang in _LANGS for names in NAMES[lang][:2] for name in names)
_LAST_NAMES = tuple(name for lang in _LANGS for name in NAMES[lang][2])
_STREETS = tuple(street for lang in _LANGS for street in STREETS[lang])


def _offsets(sizes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    size = np.array(sizes)
    return np.concatenate([[0], np.cumsum(size)[:-1]]), size


_FEMALE_OFF, _ = _offsets([len(NAMES[lang][0]) + len(NAMES[lang][1]) for lang in _LANGS])
_FEMALE_LEN = np.array([len(NAMES[lang][0]) for lang in _LANGS])
_MALE_OFF = _FEMALE_OFF + _FEMALE_LEN
_MALE_LEN = np.array([len(NAMES[lang][1]) for lang in _LANGS])
_LAST_OFF, _LAST_LEN = _offsets([len(NAMES[lang][2]) for lang in _LANGS])
_STREET_OFF, _STREET_LEN = _offsets([len(STREETS[lang]) for lang in _LANGS])
_NUMBER_FIRST = np.array([lang in ("fr", "en") for lang in _LANGS])  # "12 High Street"

# Flat postal prefix table: the prefixes of city i are _PREFIXES[_PREFIX_OFF[i]:+_PREFIX_LEN[i]].
_PREFIXES = tuple(p for c in COUNTRIES for city in c.cities for p in city.postal_prefixes)
_PREFIX_OFF, _PREFIX_LEN = _offsets(
    [len(city.postal_prefixes) for c in COUNTRIES for city in c.cities]
)
_POSTAL_FORMATS = ("ddddd", "dddd", "dddd LL", "dd-ddd", "ddd dd", "uk")
_COUNTRY_POSTAL = np.array([_POSTAL_FORMATS.index(c.postal_format) for c in COUNTRIES])
_POSTAL_LETTERS = tuple("ABCDEFGHJKLMNPRSTUWXYZ")


def labels(values: tuple[str, ...], codes: np.ndarray) -> pl.Series:
    """Strings for integer codes, without building Python or numpy string arrays."""
    return pl.Series(values=list(values), dtype=pl.String).gather(np.asarray(codes))


def _uniform_index(rng: np.random.Generator, offset: np.ndarray, size: np.ndarray) -> np.ndarray:
    return offset + np.floor(rng.random(len(offset)) * size).astype(np.int64)


def draw_postal_codes(rng: np.random.Generator, city: np.ndarray) -> pl.Series:
    """Country-typical postal code formats ('10115', '1234 AB', '00-950', 'SW4 7QX')."""
    n = len(city)
    fmt = _COUNTRY_POSTAL[_CITY_COUNTRY[city]]
    prefix_idx = _uniform_index(rng, _PREFIX_OFF[city], _PREFIX_LEN[city])
    prefix_len = np.array([len(p) for p in _PREFIXES])[prefix_idx]
    total = np.array([f.count("d") for f in _POSTAL_FORMATS])[fmt]
    need = np.maximum(total - prefix_len, 1)
    frame = pl.DataFrame(
        {
            "prefix": labels(_PREFIXES, prefix_idx),
            "rest": np.floor(rng.random(n) * 10.0**need).astype(np.int64),
            "need": need,
            "fmt": fmt,
            "l1": labels(_POSTAL_LETTERS, rng.integers(0, len(_POSTAL_LETTERS), n)),
            "l2": labels(_POSTAL_LETTERS, rng.integers(0, len(_POSTAL_LETTERS), n)),
            "d1": rng.integers(1, 10, n),
            "d2": rng.integers(0, 10, n),
        }
    )
    digits = pl.col("prefix") + pl.col("rest").cast(pl.String).str.zfill(pl.col("need"))
    f = pl.col("fmt")
    code = (
        pl.when(f == _POSTAL_FORMATS.index("dddd LL"))
        .then(pl.concat_str([digits, pl.lit(" "), pl.col("l1"), pl.col("l2")]))
        .when(f == _POSTAL_FORMATS.index("dd-ddd"))
        .then(pl.concat_str([digits.str.slice(0, 2), pl.lit("-"), digits.str.slice(2)]))
        .when(f == _POSTAL_FORMATS.index("ddd dd"))
        .then(pl.concat_str([digits.str.slice(0, 3), pl.lit(" "), digits.str.slice(3)]))
        .when(f == _POSTAL_FORMATS.index("uk"))
        .then(
            pl.concat_str(
                [
                    pl.col("prefix"),
                    pl.col("d1").cast(pl.String),
                    pl.lit(" "),
                    pl.col("d2").cast(pl.String),
                    pl.col("l1"),
                    pl.col("l2"),
                ]
            )
        )
        .otherwise(digits)
    )
    return frame.select(code.alias("postal_code")).to_series()


@dataclass(frozen=True)
class NameCodes:
    first: np.ndarray  # index into _FIRST_NAMES
    last: np.ndarray  # index into _LAST_NAMES
    street: np.ndarray  # index into _STREETS
    house_no: np.ndarray


def draw_names(rng: np.random.Generator, country: np.ndarray, gender: np.ndarray) -> NameCodes:
    lang = _LANG_OF_COUNTRY[country]
    # 'd' and 'unknown' persons get a first name from either list.
    female = (gender == 0) | ((gender >= 2) & (rng.random(len(country)) < 0.5))
    first = np.where(
        female,
        _uniform_index(rng, _FEMALE_OFF[lang], _FEMALE_LEN[lang]),
        _uniform_index(rng, _MALE_OFF[lang], _MALE_LEN[lang]),
    )
    return NameCodes(
        first=first,
        last=_uniform_index(rng, _LAST_OFF[lang], _LAST_LEN[lang]),
        street=_uniform_index(rng, _STREET_OFF[lang], _STREET_LEN[lang]),
        house_no=rng.integers(1, 180, len(country)),
    )


def street_text(codes: NameCodes, country: np.ndarray) -> pl.Series:
    name = labels(_STREETS, codes.street)
    number = pl.Series(codes.house_no).cast(pl.String)
    return pl.select(
        pl.when(pl.Series(_NUMBER_FIRST[_LANG_OF_COUNTRY[country]]))
        .then(pl.concat_str([number, pl.lit(" "), name]))
        .otherwise(pl.concat_str([name, pl.lit(" "), number]))
        .alias("street")
    ).to_series()


def _email_candidates(
    rng: np.random.Generator,
    first: pl.Series,
    last: pl.Series,
    country: np.ndarray,
    birth_year: np.ndarray,
) -> pl.Series:
    """Plausible addresses from names; uniqueness is enforced afterwards by the caller."""
    n = len(first)
    frame = pl.DataFrame(
        {
            "f": first.str.to_lowercase().str.replace_many(TRANSLITERATION),
            "l": last.str.to_lowercase().str.replace_many(TRANSLITERATION),
            "style": rng.choice(7, n, p=[0.35, 0.14, 0.14, 0.1, 0.1, 0.07, 0.1]),
            "digits": pl.Series(
                np.where(rng.random(n) < 0.5, birth_year % 100, rng.integers(1, 1000, n))
            ).cast(pl.String),
            "with_digits": rng.random(n) < 0.3,
            # big free-mail providers for most, a national one for the rest
            "domain": labels(
                _DOMAINS,
                np.where(
                    rng.random(n) < 0.75,
                    rng.choice(len(EMAIL_DOMAINS), n, p=[0.3, 0.2, 0.1, 0.2, 0.1, 0.1]),
                    len(EMAIL_DOMAINS) + country,
                ),
            ),
        }
    )
    f, ln, s = pl.col("f"), pl.col("l"), pl.col("style")
    local = (
        pl.when(s == 0)
        .then(f + "." + ln)
        .when(s == 1)
        .then(f + ln)
        .when(s == 2)
        .then(f.str.slice(0, 1) + "." + ln)
        .when(s == 3)
        .then(f + "_" + ln)
        .when(s == 4)
        .then(ln + "." + f)
        .when(s == 5)
        .then(f + "." + ln.str.slice(0, 1))
        .otherwise(f + pl.col("digits"))
    )
    local = (
        pl.when(pl.col("with_digits") & (s != 6)).then(local + pl.col("digits")).otherwise(local)
    )
    return frame.select((local + "@" + pl.col("domain")).alias("email")).to_series()


_DOMAINS = EMAIL_DOMAINS + tuple(f"{c.code.lower()}.example" for c in COUNTRIES)


class EmailRegistry:
    """Keeps generated e-mail addresses unique across chunks (households share on purpose)."""

    def __init__(self) -> None:
        self._seen: list[pl.Series] = []

    def make_unique(self, candidates: pl.Series, owner_index: np.ndarray) -> pl.Series:
        # A clash gets '.<owner index>' before the '@'; no candidate has that shape
        # (digits in candidates follow a letter), so the result is unique.
        seen = pl.concat(self._seen) if self._seen else pl.Series("email", [], pl.String)
        frame = pl.DataFrame({"email": candidates, "owner": owner_index.astype(np.int64)})
        clash = frame.select(
            pl.col("email").is_in(seen.implode()) | ~pl.col("email").is_first_distinct()
        ).to_series()
        parts = frame["email"].str.split_exact("@", 1).struct.unnest()
        fixed = parts["field_0"] + "." + frame["owner"].cast(pl.String) + "@" + parts["field_1"]
        result = pl.select(
            pl.when(clash).then(fixed).otherwise(frame["email"]).alias("email")
        ).to_series()
        self._seen.append(result)
        return result


def population_params(purchase_rate: float = 1.0) -> dict[str, float]:
    """The population parameters of a retailer whose customers buy `purchase_rate` times as
    often over the same lifetimes: every purchase rate Gamma(r, rate=alpha) is scaled by
    dividing alpha, and the dropout probability per purchase Beta(a, b) keeps its shape a
    with its mean divided by the factor (b' = k (a + b) - a), so that customers stay as long
    in calendar time. Both remain in the BG/NBD family, so the truth stays known."""
    k = purchase_rate
    a, b = TRUE_PARAMS["a"], TRUE_PARAMS["b"]
    return {**TRUE_PARAMS, "alpha": TRUE_PARAMS["alpha"] / k, "b": k * (a + b) - a}


def draw_persons(
    rng: np.random.Generator,
    first_index: int,
    n: int,
    cal: Calendar,
    emails: EmailRegistry,
    params: dict[str, float] = TRUE_PARAMS,
) -> Persons:
    index = np.arange(first_index, first_index + n)
    country = rng.choice(len(COUNTRIES), n, p=_COUNTRY_WEIGHT)
    city = np.empty(n, dtype=np.int64)
    for ci in range(len(COUNTRIES)):
        mask = np.flatnonzero(country == ci)
        cand = np.flatnonzero(ci == _CITY_COUNTRY)
        w = _CITY_WEIGHT[cand] / _CITY_WEIGHT[cand].sum()
        city[mask] = cand[rng.choice(len(cand), len(mask), p=w)]

    gender = rng.choice(4, n, p=[0.55, 0.39, 0.01, 0.05])
    age_end = np.clip(rng.normal(42, 14, n), 18, 88)
    end_day = cal.start + cal.n_days
    birth_day = end_day - (age_end * 365.25).astype(np.int64)
    birth_year = birth_day.astype("datetime64[Y]").astype(int) + 1970

    # Channel mix: younger people use the app, older ones the store; no store nearby means
    # store visits only when travelling, no store in the country means none at all.
    city_store = _CITY_STORE[city]
    country_store = _COUNTRY_HAS_STORE[country]
    base = np.column_stack(
        [
            np.full(n, 0.45),
            np.where(age_end < 30, 0.35, np.where(age_end > 55, 0.08, 0.2)),
            np.where(city_store, 0.45, np.where(country_store, 0.1, 0.0))
            + np.where(age_end > 55, 0.15, 0.0) * country_store,
        ]
    )
    mix = np.zeros((n, 3))
    has = base > 0
    mix[has] = rng.gamma(1.8 * base[has] / base.sum(axis=1, keepdims=True).repeat(3, 1)[has])
    mix /= mix.sum(axis=1, keepdims=True)

    device = rng.choice(3, n, p=[0.38, 0.52, 0.10])
    device = np.where((age_end > 60) & (rng.random(n) < 0.3), 0, device)
    desktop_os = rng.choice(3, n, p=[0.74, 0.23, 0.03])
    mobile_os = rng.choice(2, n, p=[0.58, 0.42])

    cat_base = np.tile([0.25, 0.12, 0.08, 0.12, 0.10, 0.10, 0.10, 0.05], (n, 1))
    cat_base[gender == 0, 0] *= 1.3
    cat_base[gender == 0, 4] *= 2.0
    cat_base[gender == 1, 5] *= 2.0
    cat_base[gender == 1, 6] *= 1.4
    cat_base[(age_end >= 28) & (age_end <= 48), 7] *= 3.0
    cat_base[age_end > 55, 3] *= 1.6
    cat_pref = rng.gamma(0.7 * cat_base / cat_base.sum(axis=1, keepdims=True) * len(CATEGORIES))
    cat_pref = (cat_pref + 1e-9) / (cat_pref + 1e-9).sum(axis=1, keepdims=True)

    home_store = np.full(n, -1)
    for s, store_city in enumerate(_STORE_CITY):
        home_store[city == store_city] = s
    for ci in np.flatnonzero(_COUNTRY_HAS_STORE):
        # people in towns without a store shop in one of their country's stores
        mask = np.flatnonzero((country == ci) & (home_store < 0))
        options = np.flatnonzero(ci == _STORE_COUNTRY)
        home_store[mask] = options[rng.integers(0, len(options), len(mask))]

    # Acquisition: growing inflow with the same seasonality as purchases.
    growth = np.exp(np.log(YEARLY_GROWTH) / 365.0 * np.arange(cal.n_days)) * cal.season
    acq_day = rng.choice(cal.n_days, n, p=growth / growth.sum())
    acquired_s = acq_day * DAY + rng.integers(8 * 3600, 22 * 3600, n)

    tp = params
    lam = rng.gamma(tp["r"], 1.0 / tp["alpha"], n)
    p_dropout = rng.beta(tp["a"], tp["b"], n)
    repeats_until_dropout = rng.geometric(np.clip(p_dropout, 1e-6, 1.0))
    nu = rng.gamma(tp["q_spend"], 1.0 / tp["gamma_spend"], n)
    return_rate = rng.beta(0.6, 11.0, n)
    prospect_only = rng.random(n) < PROSPECT_ONLY_SHARE

    # Households: a secondary person moves in with a primary (both buyers) and shares the
    # primary's address, usually the surname, and the one family e-mail address.
    buyers = np.flatnonzero(~prospect_only)
    n_house = rng.binomial(len(buyers), HOUSEHOLD_SHARE / (1 - PROSPECT_ONLY_SHARE) / 2) * 2
    household_of = np.full(n, -1)
    if n_house >= 2:
        members = rng.choice(buyers, n_house, replace=False)
        primaries, secondaries = members[: n_house // 2], members[n_house // 2 :]
        household_of[secondaries] = primaries
        country[secondaries] = country[primaries]
        city[secondaries] = city[primaries]
        home_store[secondaries] = home_store[primaries]
        mix[secondaries] = mix[primaries]

    names = draw_names(rng, country, gender)
    secondaries = np.flatnonzero(household_of >= 0)
    primary_of = household_of[secondaries]
    same_name = rng.random(len(secondaries)) < 0.75
    names.last[secondaries[same_name]] = names.last[primary_of[same_name]]
    names.street[secondaries] = names.street[primary_of]
    names.house_no[secondaries] = names.house_no[primary_of]
    postal = draw_postal_codes(rng, city)
    postal = postal.scatter(secondaries, postal.gather(primary_of))

    first_s = labels(_FIRST_NAMES, names.first).alias("first_name")
    last_s = labels(_LAST_NAMES, names.last).alias("last_name")
    owner = np.concatenate([index, index])
    candidates = pl.concat(
        [
            _email_candidates(rng, first_s, last_s, country, birth_year),
            _email_candidates(rng, first_s, last_s, country, birth_year),
        ]
    )
    unique = emails.make_unique(candidates, owner)
    email = unique.slice(0, n)
    email_new = unique.slice(n, n)
    # How the person typed it at signup: mostly lower case, some capitalised.
    typed = pl.select(
        pl.when(pl.Series(rng.random(n) < 0.12)).then(email.str.to_titlecase()).otherwise(email)
    ).to_series()
    typed = typed.scatter(secondaries, typed.gather(primary_of))
    email_new = email_new.scatter(secondaries, typed.gather(primary_of))

    # Phone numbers in a '555' block, to look fictional.
    phone = pl.select(
        pl.concat_str(
            [
                labels(tuple(c.phone_prefix for c in COUNTRIES), country),
                pl.lit(" 555 "),
                pl.Series(rng.integers(0, 10_000_000, n)).cast(pl.String).str.zfill(7),
            ]
        ).alias("phone")
    ).to_series()

    erased_s = np.full(n, np.inf)
    n_erase = rng.binomial(n, ERASURE_SHARE)
    if n_erase:
        who = rng.choice(n, n_erase, replace=False)
        room = cal.end_seconds - (acquired_s[who] + 30 * DAY)
        ok = room > DAY
        erased_s[who[ok]] = acquired_s[who[ok]] + 30 * DAY + rng.random(ok.sum()) * room[ok]

    return Persons(
        n=n,
        person_id=pl.select(
            pl.concat_str([pl.lit("H"), pl.Series(index).cast(pl.String).str.zfill(8)]).alias(
                "person_id"
            )
        ).to_series(),
        country=country,
        city=city,
        postal_code=postal.alias("postal_code"),
        street=street_text(names, country),
        first_name=first_s,
        last_name=last_s,
        phone=phone,
        email=typed,
        email_new=email_new,
        gender=gender,
        birth_day=birth_day,
        channel_mix=mix,
        device=device,
        desktop_os=desktop_os,
        mobile_os=mobile_os,
        category_pref=cat_pref,
        home_store=home_store,
        prospect_only=prospect_only,
        acquired_s=acquired_s.astype(np.int64),
        lam=lam,
        p_dropout=p_dropout,
        repeats_until_dropout=repeats_until_dropout,
        nu=nu,
        return_rate=return_rate,
        household_of=household_of,
        erased_s=erased_s,
    )


STORE_IDS: tuple[str, ...] = tuple(_STORE_IDS)
STORE_COUNTRY = _STORE_COUNTRY
CITY_NAMES: tuple[str, ...] = tuple(city.name for c in COUNTRIES for city in c.cities)
CITY_REGIONS: tuple[str, ...] = tuple(city.region for c in COUNTRIES for city in c.cities)
