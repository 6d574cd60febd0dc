"""The pandas + scikit-learn reference: what a competent data scientist writes in a notebook.

Same landing Parquet files, same as-of day, vectorised throughout (no Python loops over rows):
unify by customer_no / loyalty card / e-mail (and shop account for guests), convert to the
reporting currency, per-customer RFM aggregates, quintile scores, ABC classes and k-means
clusters on standardised log features (k by silhouette on a sample). It prints one JSON line.
Run as ``python -m bench.pandas_reference LANDING_DIR AS_OF``.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler


def read(landing: str, table: str, columns: list[str]) -> pd.DataFrame:
    return pd.read_parquet(f"{landing}/{table}", columns=columns)


def main(landing: str, as_of: str) -> dict:
    t0 = time.perf_counter()
    stages: dict[str, float] = {}
    as_of_ts = pd.Timestamp(as_of) + pd.Timedelta(days=1)  # end of the as-of day

    crm = read(landing, "crm_customers", ["customer_no", "email", "updated_at"])
    cards = read(landing, "loyalty_cards", ["loyalty_card_no", "customer_no"])
    shop = read(
        landing,
        "shop_orders",
        [
            "order_id",
            "ordered_at",
            "customer_no",
            "shop_account_id",
            "email",
            "amount",
            "currency",
            "status",
        ],
    )
    store = read(
        landing,
        "store_transactions",
        ["transaction_id", "transacted_at", "loyalty_card_no", "amount", "currency", "is_return"],
    )
    fx = read(landing, "fx_rates", ["currency", "rate_date", "rate_to_reporting"])
    stages["read"] = time.perf_counter() - t0

    # --- unification: every e-mail a CRM customer ever had maps to that customer (households,
    # i.e. e-mails of several customer numbers, are not used as keys)
    t = time.perf_counter()
    crm = crm[crm["updated_at"] < as_of_ts]
    crm["email"] = crm["email"].str.strip().str.lower()
    email_map = crm.dropna(subset=["email"]).drop_duplicates(["email", "customer_no"])
    email_map = email_map[~email_map["email"].duplicated(keep=False)]
    email_map = email_map.set_index("email")["customer_no"]
    card_map = cards.drop_duplicates("loyalty_card_no").set_index("loyalty_card_no")["customer_no"]

    shop = shop[
        (shop["ordered_at"] < as_of_ts) & (shop["status"].fillna("completed") == "completed")
    ]
    shop = shop.drop_duplicates("order_id")
    email = shop["email"].str.strip().str.lower()
    key = shop["customer_no"].fillna(email.map(email_map))
    key = key.fillna("acct:" + shop["shop_account_id"]).fillna("mail:" + email)
    orders_shop = pd.DataFrame(
        {
            "customer": key,
            "at": shop["ordered_at"],
            "amount": shop["amount"],
            "currency": shop["currency"],
        }
    )
    store = store[(store["transacted_at"] < as_of_ts) & ~store["is_return"].fillna(False)]
    store = store.drop_duplicates("transaction_id").dropna(subset=["loyalty_card_no"])
    skey = store["loyalty_card_no"].map(card_map).fillna("card:" + store["loyalty_card_no"])
    orders_store = pd.DataFrame(
        {
            "customer": skey,
            "at": store["transacted_at"],
            "amount": store["amount"],
            "currency": store["currency"],
        }
    )
    orders = pd.concat([orders_shop, orders_store], ignore_index=True).dropna(subset=["customer"])
    orders["day"] = orders["at"].dt.normalize()
    fx = fx.assign(rate_date=pd.to_datetime(fx["rate_date"]))
    orders = orders.merge(
        fx, left_on=["currency", "day"], right_on=["currency", "rate_date"], how="left"
    )
    orders["rate_to_reporting"] = orders["rate_to_reporting"].where(
        orders["currency"] != "EUR", 1.0
    )
    orders = orders.dropna(subset=["rate_to_reporting", "amount"])  # unknown currency
    orders["amount_eur"] = orders["amount"] * orders["rate_to_reporting"]
    stages["unify"] = time.perf_counter() - t

    # --- RFM per customer
    t = time.perf_counter()
    g = orders.groupby("customer", sort=False)
    rfm = g.agg(
        order_count=("amount_eur", "size"),
        monetary_total=("amount_eur", "sum"),
        first_day=("day", "min"),
        last_day=("day", "max"),
        purchase_days=("day", "nunique"),
    )
    as_of_day = pd.Timestamp(as_of)
    rfm["frequency"] = rfm["purchase_days"] - 1
    rfm["recency_days"] = (as_of_day - rfm["last_day"]).dt.days
    rfm["T_days"] = (as_of_day - rfm["first_day"]).dt.days
    rfm["t_x_days"] = (rfm["last_day"] - rfm["first_day"]).dt.days
    rfm["avg_order_value"] = rfm["monetary_total"] / rfm["order_count"]
    # quintiles; equal values share a score (rank method='min')
    for col, name, asc in (
        ("recency_days", "r_score", False),
        ("frequency", "f_score", True),
        ("monetary_total", "m_score", True),
    ):
        pct = rfm[col].rank(method="min", pct=True, ascending=asc)
        rfm[name] = np.ceil(pct * 5).clip(1, 5).astype("int8")
    # ABC: A = top 80 % of revenue, B = next 15 %
    share = rfm["monetary_total"].sort_values(ascending=False).cumsum()
    share = share / share.iloc[-1]
    prev = share.shift(fill_value=0.0)
    abc = pd.Series(np.select([prev < 0.80, prev < 0.95], ["A", "B"], "C"), index=share.index)
    rfm["abc_class"] = abc.reindex(rfm.index)
    stages["rfm_abc"] = time.perf_counter() - t

    # --- k-means on standardised log features, k by silhouette on a 10k sample
    t = time.perf_counter()
    feats = np.log1p(
        rfm[["frequency", "recency_days", "avg_order_value", "T_days"]]
        .clip(lower=0)
        .to_numpy(float)
    )
    X = StandardScaler().fit_transform(feats)
    rng = np.random.default_rng(0)
    sample = rng.choice(len(X), size=min(10_000, len(X)), replace=False)
    best = None
    for k in range(3, 7):
        km = KMeans(n_clusters=k, n_init=3, random_state=0).fit(X)
        s = silhouette_score(X[sample], km.labels_[sample])
        if best is None or s > best[0]:
            best = (s, k, km)
    rfm["cluster_id"] = best[2].labels_
    stages["kmeans"] = time.perf_counter() - t

    return {
        "customers": int(len(rfm)),
        "orders": int(len(orders)),
        "revenue": float(rfm["monetary_total"].sum()),
        "k": int(best[1]),
        "stages_s": {k: round(v, 3) for k, v in stages.items()},
        "total_s": round(time.perf_counter() - t0, 3),
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2])))
