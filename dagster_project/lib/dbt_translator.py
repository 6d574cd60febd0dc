"""How dbt resources appear in Dagster: landing sources, groups from the folder path."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtProject


class SegmentwerkDbtTranslator(DagsterDbtTranslator):
    def __init__(self) -> None:
        # Every dbt test becomes an asset check, visible beside its model in the UI.
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] == "source":
            # The landing specs own these keys (group "landing"): ["landing", <table>].
            return spec.replace_attributes(key=dg.AssetKey([props["source_name"], props["name"]]))
        # models/<layer>/...: staging, intermediate, marts, audit
        fqn = props.get("fqn", [])
        group = fqn[1] if len(fqn) > 2 else "dbt"
        return spec.replace_attributes(group_name=group)
