{#-
    Incremental aggregates of an incremental landing model, by source file.

    A model that aggregates a `base_*` model (incremental_landing.sql) per landing file need
    not aggregate the whole history on every build: only the files whose base rows were written
    since its own last build are aggregated again. Every base row carries the `loaded_at` of the
    build that wrote it (re-judged duplicates and re-read files get a new one), so a file whose
    latest `loaded_at` is after the model's watermark changed; a file gone from the base lost
    its rows. The model stores, on every row it writes:
      base_loaded_at   the base table's latest `loaded_at` when the row was built (the watermark)
      rules_version    `model_rules_version()`, its SQL's checksum: a change rebuilds every file
    and is configured with `source_file_incremental_config()`.

    Erasure (lib/privacy/erasure.py) anonymises the aggregate's rows in place, as it does the
    base rows, so an erased person's counts stay anonymous until the file is aggregated again,
    from base rows that are anonymous too.
-#}

{% macro source_file_incremental_config() -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='source_files',
        on_schema_change='sync_all_columns'
    ) }}
{%- endmacro %}

{#- What this build of the model aggregates, decided once at run time from `this` and the base:
      full      every file (first build, full refresh, changed SQL)
      files     the files to aggregate again (their latest base rows are after the watermark)
      replaced  the files whose existing rows are deleted: `files` plus the files gone from
                the base
    Called by the model and again by the strategy before it changes anything, so both see the
    same answer. -#}
{% macro source_files_to_rebuild(base_relation) -%}
    {%- set plan = {'full': true, 'files': [], 'replaced': []} -%}
    {%- set loaded_columns = adapter.get_columns_in_relation(this) | map(attribute='name') | list
        if execute and is_incremental() else [] -%}
    {%- if 'rules_version' in loaded_columns -%}
        {%- set built = run_query(
            "select count(*), max(base_loaded_at), "
            ~ "sum(case when rules_version = '" ~ segmentwerk.model_rules_version() ~ "' then 0 else 1 end) "
            ~ "from " ~ this
        ).rows[0] -%}
        {%- if built[0] > 0 and built[2] == 0 -%}
            {%- set found = run_query(
                "with based as (select source_file, max(loaded_at) as loaded_at from " ~ base_relation
                ~ " group by source_file), "
                ~ "aggregated as (select distinct source_file from " ~ this ~ ") "
                ~ "select coalesce(based.source_file, aggregated.source_file), based.source_file is not null, "
                ~ "coalesce(based.loaded_at > cast('" ~ built[1] ~ "' as " ~ dbt.type_timestamp() ~ "), false) "
                ~ "from based full outer join aggregated on aggregated.source_file = based.source_file"
            ) -%}
            {%- set files = [] -%}
            {%- set replaced = [] -%}
            {%- for source_file, is_based, is_changed in found.rows -%}
                {%- if is_based and is_changed -%}{%- do files.append(source_file) -%}{%- endif -%}
                {%- if is_changed or not is_based -%}{%- do replaced.append(source_file) -%}{%- endif -%}
            {%- endfor -%}
            {%- do plan.update({'full': false, 'files': files, 'replaced': replaced}) -%}
        {%- endif -%}
        {{ log("source_files_to_rebuild " ~ this.identifier ~ ": "
               ~ ("every file" if plan.full else (plan.files | length) ~ " file(s) to aggregate, "
                  ~ (plan.replaced | length) ~ " to replace"), info=true) }}
    {%- endif -%}
    {{ return(plan) }}
{%- endmacro %}

{#- The filter of the base rows to aggregate: every file, or the plan's files. -#}
{% macro source_files_filter(plan) -%}
    {%- if plan.full -%}1 = 1{%- else -%}source_file in {{ segmentwerk.landing_file_list(plan.files) }}{%- endif -%}
{%- endmacro %}

{#- The `source_files` incremental strategy (dbt looks it up by this name). The model names its
    base relation in the `source_file_base` config. -#}
{% macro get_incremental_source_files_sql(arg_dict) -%}
    {%- set plan = segmentwerk.source_files_to_rebuild(ref(config.require('source_file_base'))) -%}
    {%- if plan.full -%}
        {%- set replaced = '1 = 1' -%}
    {%- elif plan.replaced -%}
        {%- set replaced = 'source_file in ' ~ segmentwerk.landing_file_list(plan.replaced) -%}
    {%- else -%}
        {%- set replaced = none -%}
    {%- endif -%}
    {{ segmentwerk.delete_then_insert(arg_dict, replaced) }}
{%- endmacro %}
