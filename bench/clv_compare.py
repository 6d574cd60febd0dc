"""Fit BG/NBD on the same (x, t_x, T) with one library; print one JSON line.

``python -m bench.clv_compare RFT_PARQUET LIBRARY`` with LIBRARY one of ``segmentwerk``,
``lifetimes``, ``pymc_marketing``. Times are split into import and fit (pymc's fit includes
building and compiling the model). A library that is not installed reports
``{"available": false, "reason": ...}`` instead of failing: the base dependencies have only ours.
"""

from __future__ import annotations

import json
import sys
import time
import warnings

import numpy as np
import pandas as pd


def _params(d: dict) -> dict:
    return {k: float(d[k]) for k in ("r", "alpha", "a", "b")}


def fit(path: str, library: str) -> dict:
    rft = pd.read_parquet(path)
    x, t_x, T = (rft[c].to_numpy(float) for c in ("x", "t_x", "T"))
    out: dict = {"library": library, "customers": int(len(rft)), "time_unit": "week"}
    t0 = time.perf_counter()
    try:
        if library == "segmentwerk":
            from dagster_project.lib.clv import fit_bg_nbd

            out["import_s"] = time.perf_counter() - t0
            t1 = time.perf_counter()
            res = fit_bg_nbd(x, t_x, T, time_unit="week")
            out["fit_s"] = time.perf_counter() - t1
            out["converged"] = bool(res.converged)
            out["message"] = res.message
            if res.params is not None:
                out["params"] = _params(
                    dict(zip(("r", "alpha", "a", "b"), res.params, strict=True))
                )
            out["log_likelihood"] = res.log_likelihood
        elif library == "lifetimes":
            import lifetimes

            out["version"] = lifetimes.__version__
            out["import_s"] = time.perf_counter() - t0
            t1 = time.perf_counter()
            bgf = lifetimes.BetaGeoFitter(penalizer_coef=0.0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                bgf.fit(pd.Series(x), pd.Series(t_x), pd.Series(T))
            out["fit_s"] = time.perf_counter() - t1
            out["converged"] = True
            out["params"] = _params(bgf.params_.to_dict())
        elif library == "pymc_marketing":
            import pymc_marketing
            from pymc_extras.prior import Prior
            from pymc_marketing.clv import BetaGeoModel

            out["version"] = pymc_marketing.__version__
            out["import_s"] = time.perf_counter() - t0
            t1 = time.perf_counter()
            data = pd.DataFrame(
                {"customer_id": np.arange(len(x)), "frequency": x, "recency": t_x, "T": T}
            )
            flat = {k: Prior("HalfFlat") for k in ("r", "alpha", "a", "b")}
            model = BetaGeoModel(data=data, model_config=flat)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(method="map", progressbar=False)
            out["fit_s"] = time.perf_counter() - t1
            post = model.fit_result
            out["converged"] = True
            out["params"] = {k: float(post[k].values.ravel()[0]) for k in ("r", "alpha", "a", "b")}
        else:
            raise SystemExit(f"unknown library {library}")
    except ImportError as exc:
        out.update(available=False, reason=f"not installed: {exc}")
        return out
    except Exception as exc:  # a library that installs but fails is a result, not a crash
        out.update(available=True, converged=False, error=f"{type(exc).__name__}: {exc}"[:500])
        out["fit_s"] = time.perf_counter() - t0 - out.get("import_s", 0.0)
        return out
    out["available"] = True
    return out


if __name__ == "__main__":
    print(json.dumps(fit(sys.argv[1], sys.argv[2])))
