"""The dbt project as Dagster assets: landing → staging → intermediate → marts (+ audit)."""

import os

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject, dbt_assets, get_asset_key_for_model

from dagster_project.lib.dbt_manifest import ensure_manifest, prune_invocation_targets
from dagster_project.lib.dbt_translator import SegmentwerkDbtTranslator
from dagster_project.lib.landing_contract import missing_required_tables_reason
from dagster_project.lib.landing_files import run_preflight
from dagster_project.lib.privacy.erasure import SuppressionStore
from dagster_project.lib.quality import import_validation_in_background
from dagster_project.lib.settings import DBT_PROJECT_DIR, load_settings
from dagster_project.lib.warehouse import BUILD_DB_POOL, WarehouseResource

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
ensure_manifest(dbt_project, load_settings().dbt_env())


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=SegmentwerkDbtTranslator(),
    pool=BUILD_DB_POOL,
)
def unification_dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
):
    settings = warehouse.settings
    reason = missing_required_tables_reason(settings.landing_dir)
    if reason:
        raise dg.Failure(description=reason, allow_retries=False)
    with warehouse.writer(context.log):
        # Every landing file is checked before dbt reads it: unreadable files and malformed
        # lines become quarantine rows instead of failing the build (lib/landing_files.py).
        preflight = run_preflight(
            settings.landing_dir, settings.build_db_path, log=context.log.warning
        )
        context.log.info(preflight.describe())
        # dbt inherits this process's environment; the paths are absolute so dbt's working
        # directory does not matter.
        os.environ.update(settings.dbt_env())
        # New customer ids are salted with the installation's secret: an e-mail address alone
        # must not lead to anybody's id in the published marts.
        os.environ["SEGMENTWERK_ID_SALT"] = SuppressionStore(settings.privacy_dir).customer_id_salt
        # The unification gate follows; it imports Great Expectations while dbt works.
        import_validation_in_background()
        invocation = dbt.cli(["build"], context=context)
        yield from invocation.stream()
    prune_invocation_targets(invocation.target_path)


def dbt_model_key(name: str) -> dg.AssetKey:
    """The asset key of a dbt model, so Python assets never copy a table name."""
    return get_asset_key_for_model([unification_dbt_models], name)
