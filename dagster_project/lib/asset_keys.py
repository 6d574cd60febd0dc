"""Keys of the Python-built marts, in one place (the dbt models' keys come from the manifest)."""

import dagster as dg

CUSTOMER_SCORES = dg.AssetKey(["marts", "customer_scores"])
CLV_MODEL_PARAMS = dg.AssetKey(["marts", "clv_model_params"])
CUSTOMER_SEGMENTS = dg.AssetKey(["marts", "customer_segments"])
SEGMENT_PROFILES = dg.AssetKey(["marts", "segment_profiles"])
SEGMENT_MIGRATIONS = dg.AssetKey(["marts", "segment_migrations"])
SEGMENT_SIZES = dg.AssetKey(["marts", "segment_sizes"])
PROSPECT_SCORES = dg.AssetKey(["marts", "prospect_scores"])
CUSTOMER_TRIGGERS = dg.AssetKey(["marts", "customer_triggers"])
# Applies the right to be forgotten after each unification; writes audit.erasure_log.
ERASURE_LOG = dg.AssetKey(["audit", "erasure_log"])
AUDIENCE_EXPORTS = dg.AssetKey(["exports", "audience_exports"])

# Everything the publication waits for besides the dbt marts and audit tables.
MONTHLY_MARTS = (
    CUSTOMER_SCORES,
    CLV_MODEL_PARAMS,
    CUSTOMER_SEGMENTS,
    SEGMENT_PROFILES,
    SEGMENT_MIGRATIONS,
    SEGMENT_SIZES,
    PROSPECT_SCORES,
    CUSTOMER_TRIGGERS,
)
