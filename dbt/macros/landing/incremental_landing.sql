{#-
    Incremental staging by landing file.

    A landing file never changes once it has been loaded, so a `base_*` model need not parse
    the whole landing history on every build: at a million customers that is a hundred million
    web events, minutes per run. A model configured with `landing_incremental_config()` reads
    only the files that are new or changed since its last build, and the custom incremental
    strategy `landing_files` (below) then, in the model's transaction:
      1. deletes the rows of files that changed or disappeared from the landing zone,
      2. deletes the earlier version of every existing row the build re-decided (a duplicate
         whose first copy arrived or left in this load),
      3. inserts the new rows.
    The result equals a full rebuild (tests/test_incremental_staging.py compares them), with
    one deliberate difference: a row's own checks are not re-run once it is loaded, so a row
    quarantined as 'timestamp in the future' stays quarantined when its day has come.

    How a file is recognised: every row carries `landing_file_version`, which is the file's
    size and modification time (as the preflight saw them), the preflight's version and the
    checksum of the model's SQL. A file whose version differs from the preflight's is read
    again; a change of the model's SQL therefore re-reads every file, so the table never mixes
    rows parsed by two versions of the rules. `dbt build --full-refresh` rebuilds as well.

    Duplicate keys across files: the keys of the new rows and of the rows that leave are
    looked up in the rows that stay (see `duplicate_decisions`); only those keys are ranked
    again, and an existing row whose verdict changes is written again with the new verdict.

    Erasure (lib/privacy/erasure.py) redacts rows in place and keeps `landing_file_version`, so
    redacted rows stay redacted: they are never read again from the landing file.
-#}

{#- The config of every incremental `base_*` model. -#}
{% macro landing_incremental_config() -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='landing_files',
        on_schema_change='sync_all_columns',
        post_hook="{{ segmentwerk.remember_loaded_files() }}"
    ) }}
{%- endmacro %}

{#- `<model>__loaded_files`, beside the model: its distinct (source_table, source_file,
    landing_file_version). Which files a model holds, in which version, is asked twice per
    build (`landing_load`, and the strategy's delete of replaced files); asked of the model
    itself, each was a pass over every row it ever loaded (1.0-1.3 s each for 96M web events
    at a million customers, growing every month). The strategy keeps it in step in the model's
    transaction; the post-hook writes it whole after a first or full build, or when it is
    missing. Erasure keeps `landing_file_version` and the row, so it never changes this. -#}
{% macro loaded_files_relation(relation=this) -%}
    {{ return(relation.incorporate(path={'identifier': relation.identifier ~ '__loaded_files'})) }}
{%- endmacro %}

{#- Post-hook of the incremental `base_*` models (see above). -#}
{% macro remember_loaded_files() -%}
    {%- set loaded_files = segmentwerk.loaded_files_relation() -%}
    {%- if not is_incremental() or load_relation(loaded_files) is none -%}
    create or replace table {{ loaded_files }} as
    select distinct source_table, source_file, landing_file_version from {{ this }}
    {%- endif -%}
{%- endmacro %}

{#- The model's (source_table, source_file, landing_file_version), from `loaded_files_relation`
    when it is there. -#}
{% macro loaded_file_versions(relation) -%}
    {%- set loaded_files = segmentwerk.loaded_files_relation(relation) -%}
    {%- if load_relation(loaded_files) is not none -%}
    {{ loaded_files }}
    {%- else -%}
    (select distinct source_table, source_file, landing_file_version from {{ relation }})
    {%- endif -%}
{%- endmacro %}

{#- The rules a model's rows were built by: the first 16 characters of the checksum of the
    calling model's SQL. Part of every landing row's file version, and the `rules_version` of
    the aggregates built from them (incremental_by_source_file.sql). -#}
{% macro model_rules_version() -%}
    {{ return(model.checksum.checksum[:16]) }}
{%- endmacro %}

{#- The version of a landing file as the preflight saw it, for the calling model (see above).
    `files` is an alias of landing_preflight.landing_files. -#}
{% macro landing_file_version(files) -%}
    {{ dbt.concat([
        dbt.cast(files ~ '.size_bytes', dbt.type_string()), "':'",
        dbt.cast(files ~ '.mtime_ns', dbt.type_string()), "':'",
        dbt.cast(files ~ '.preflight_version', dbt.type_string()), "':" ~ segmentwerk.model_rules_version() ~ "'"
    ]) }}
{%- endmacro %}

{#- What this build of a landing model reads, decided once at run time:
      incremental  false for a first or full build (then every file is read)
      files        the landing files to read (new or changed); none = all of them
      replaced     the files whose existing rows are deleted (changed or gone)
    `source_relation` is the model's `source('landing', <table>)`. `recheck` is for models
    whose checks look beyond their own rows (fx rates, accepted orders): a query over `this`
    that returns the `source_file`s whose rows would be judged differently now; those files
    are read again too. -#}
{% macro landing_load(source_relation, recheck=none) -%}
    {%- set load = {'incremental': false, 'files': none, 'replaced': []} -%}
    {%- set loaded_columns = adapter.get_columns_in_relation(this) | map(attribute='name') | list
        if execute and is_incremental() else [] -%}
    {#- A table built before incremental staging has no file versions: it is read again in full. -#}
    {%- if 'landing_file_version' in loaded_columns -%}
        {%- set preflight = segmentwerk.landing_preflight_relation('landing_files') -%}
        {%- set found = run_query(
            "with loaded as (select source_file, min(landing_file_version) as version, "
            ~ "count(distinct landing_file_version) as versions from "
            ~ segmentwerk.loaded_file_versions(this) ~ " as loaded_files group by source_file), "
            ~ "landed as (select source_file, " ~ segmentwerk.landing_file_version('files') ~ " as version "
            ~ "from " ~ preflight ~ " as files where source_table = '" ~ source_relation.identifier ~ "') "
            ~ "select coalesce(landed.source_file, loaded.source_file), landed.version is not null, "
            ~ "loaded.version is not null, coalesce(landed.version = loaded.version and loaded.versions = 1, false) "
            ~ "from landed full outer join loaded on loaded.source_file = landed.source_file"
        ) -%}
        {%- set rechecked = [] -%}
        {%- if recheck is not none -%}
            {%- for row in run_query(recheck).rows -%}{%- do rechecked.append(row[0]) -%}{%- endfor -%}
        {%- endif -%}
        {%- set files = [] -%}
        {%- set replaced = [] -%}
        {%- set ns = namespace(same_rules=false) -%}
        {%- for source_file, is_landed, is_loaded, is_current in found.rows -%}
            {%- set is_current = is_current and source_file not in rechecked -%}
            {%- if is_current -%}{%- set ns.same_rules = true -%}{%- endif -%}
            {%- if is_landed and not is_current -%}{%- do files.append(source_file) -%}{%- endif -%}
            {%- if is_loaded and not is_current -%}{%- do replaced.append(source_file) -%}{%- endif -%}
        {%- endfor -%}
        {#- No file is current: the rules (or the preflight) changed, or the table is empty. All
            files are read and every existing row is replaced; there is nothing to compare with. -#}
        {%- do load.update({'incremental': ns.same_rules, 'files': files if ns.same_rules else none,
                            'replaced': replaced}) -%}
        {{ log("landing_load " ~ this.identifier ~ ": " ~ (files | length) ~ " file(s) to read, "
               ~ (replaced | length) ~ " to replace (" ~ (rechecked | length) ~ " rechecked)"
               ~ ("" if ns.same_rules else " (full re-read)"),
               info=true) }}
    {%- endif -%}
    {{ return(load) }}
{%- endmacro %}

{#- A SQL list of file names, for `source_file in (...)`; never empty: no file is `(null)`,
    which matches nothing - and makes `not in` null for every row, so never negate it. -#}
{% macro landing_file_list(files) -%}
    {%- set quoted = [] -%}
    {%- for f in files -%}{%- do quoted.append("'" ~ (f | replace("'", "''")) ~ "'") -%}{%- endfor -%}
    ({{ quoted | join(', ') if quoted else 'null' }})
{%- endmacro %}

{#- Existing rows whose own checks passed (only a duplicate verdict can have kept them out). -#}
{% macro passed_own_checks(reason_column='quarantine_reason') -%}
    ({{ reason_column }} is null or {{ reason_column }} = 'duplicate row'
     or {{ reason_column }} like 'conflicting duplicate: %')
{%- endmacro %}

{#- The model's result: the new rows (`final`) and, in an incremental build, the existing rows
    whose duplicate verdict changed (from `decisions`, see `duplicate_decisions`), with the
    new verdict and this build's `loaded_at`. A row newly found to be a duplicate has no raw line any more (it is not read
    again); its quarantine record is built from its parsed values: the landing `columns`, each
    from the model column of the same name unless `renamed` maps it (`email` ->
    `email_normalized`); `personal` landing columns are masked. -#}
{% macro landing_model_result(final, decisions, load, columns, renamed={}, personal=[]) -%}
    {%- if not load.incremental -%}
    select * from {{ final }}
    {%- else -%}
    {%- set pairs = [] -%}
    {%- for name in columns -%}
        {%- set value = dbt.cast('existing.' ~ renamed.get(name, name), dbt.type_string()) -%}
        {%- do pairs.append((name, segmentwerk.mask_personal(value) if name in personal else value)) -%}
    {%- endfor %}
    {%- set table_columns = adapter.get_columns_in_relation(this) | map(attribute='name') | list %}
    select {{ table_columns | join(', ') }} from {{ final }}
    union all
    select
        {%- for column in table_columns %}
        {%- if column == 'quarantine_reason' %}
        redecided.duplicate_reason as quarantine_reason
        {%- elif column == 'loaded_at' %}
        {{ loaded_at() }} as loaded_at
        {%- elif column == 'quarantine_record' %}
        case
            when redecided.duplicate_reason is null then null
            when existing.quarantine_record is not null then existing.quarantine_record
            else {{ segmentwerk.json_record(pairs) }}
        end as quarantine_record
        {%- else %}
        existing.{{ column }}
        {%- endif %}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ this }} as existing
    inner join {{ decisions }} as redecided
        on redecided.is_existing
        and redecided.source_file = existing.source_file
        and redecided.source_line = existing.source_line
    where coalesce(redecided.duplicate_reason, '') <> coalesce(existing.quarantine_reason, '')
    {%- endif %}
{%- endmacro %}

{#- The `landing_files` incremental strategy (dbt looks it up by this name). -#}
{% macro get_incremental_landing_files_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set new_rows = arg_dict['temp_relation'] -%}
    {%- set columns = arg_dict['dest_columns'] | map(attribute='quoted') | join(', ') -%}
    {%- set preflight = segmentwerk.landing_preflight_relation('landing_files') -%}
    {%- set loaded_files = segmentwerk.loaded_files_relation(target) -%}
    {%- set remembered = load_relation(loaded_files) is not none -%}
    {#- files loaded in a version the preflight does not see (changed or gone) -#}
    {%- set replaced_files -%}
        select loaded.source_file
        from {{ segmentwerk.loaded_file_versions(target) }} as loaded
        left join {{ preflight }} as files
            on files.source_table = loaded.source_table
            and files.source_file = loaded.source_file
            and {{ segmentwerk.landing_file_version('files') }} = loaded.landing_file_version
        where files.source_file is null
    {%- endset %}
    delete from {{ target }}
    where source_file in ({{ replaced_files }});
    {%- if remembered %}
    delete from {{ loaded_files }}
    where source_file in ({{ replaced_files }});
    {%- endif %}
    delete from {{ target }}
    where exists (
        select 1 from {{ new_rows }}
        where {{ new_rows }}.source_file = {{ target }}.source_file
            and {{ new_rows }}.source_line = {{ target }}.source_line
    );
    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ new_rows }}
    {%- if remembered %};
    insert into {{ loaded_files }}
    select distinct source_table, source_file, landing_file_version from {{ new_rows }}
    except
    select source_table, source_file, landing_file_version from {{ loaded_files }}
    {%- endif %}
{%- endmacro %}
