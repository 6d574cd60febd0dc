{#-
    read_landing(source_relation, columns)

    All rows of one landing table, as the landing preflight (dagster_project/lib/landing_files.py,
    run before every `dbt build`) found them in `$LANDING_DIR/<table>/*.csv|*.parquet`
    (`source_relation.identifier` is the folder name, so models call it with
    `source('landing', '<table>')` and keep the lineage in the manifest).

    Returns a select with exactly these varchar columns: the given contract `columns`
    (a column missing from a file, or from every file, is null), then
        source_file     the file, relative to the landing dir (`shop_orders/shop_orders_2024-01.csv`)
        source_line     CSV: the line number (header = 1); Parquet: the 1-based row number;
                        null for an unreadable file
        landing_error   null for a record; else why the line or file could not be read
                        ('malformed line: ...', 'unreadable file: ...') - the row's quarantine reason
        landing_record  for those rows: the masked raw line as JSON (built by the preflight)
        landing_file_version  which version of the file (see incremental_landing.sql)
    Readable files come from the preflight's explicit file list (never a glob), so a file that
    arrived after the preflight is not read half-checked. Extra columns are ignored. A table
    without files gives an empty relation with the same columns. `only_files` (a list of
    `source_file`s) restricts the read to those files; none reads all of them.
-#}
{% macro read_landing(source_relation, columns, only_files=none) -%}
    {{ return(adapter.dispatch('read_landing', 'segmentwerk')(source_relation, columns, only_files)) }}
{%- endmacro %}

{% macro default__read_landing(source_relation, columns, only_files=none) -%}
    {{ exceptions.raise_compiler_error("read_landing has no implementation for adapter '" ~ target.type ~ "'") }}
{%- endmacro %}

{#- The preflight's tables in the build database (written by Python, not by dbt). -#}
{% macro landing_preflight_relation(name) -%}
    {{ return(api.Relation.create(database=target.database, schema='landing_preflight', identifier=name)) }}
{%- endmacro %}

{#- The longest CSV record in bytes; the preflight uses the same (MAX_LINE_BYTES). -#}
{% macro landing_max_line_bytes() -%}
    {{ return(2097152) }}
{%- endmacro %}

{% macro duckdb__read_landing(source_relation, columns, only_files=none) -%}
    {%- set table_name = source_relation.identifier -%}
    {%- set file_filter = '' if only_files is none else ' and source_file in ' ~ segmentwerk.landing_file_list(only_files) -%}
    {%- set files = segmentwerk.landing_preflight_relation('landing_files') -%}
    {%- set rejects = segmentwerk.landing_preflight_relation('landing_rejects') -%}
    {%- set groups = [] -%}
    {%- if execute -%}
        {%- if adapter.get_relation(files.database, files.schema, files.identifier) is none -%}
            {{ exceptions.raise_compiler_error(
                "read_landing: no landing preflight in the build database; run "
                ~ "`python -m dagster_project.lib.landing_files` before `dbt build` "
                ~ "(the Dagster asset does this itself)") }}
        {%- endif -%}
        {#- One reader per set of files that share format and CSV options; usually one. -#}
        {%- set found = run_query(
            "select file_format, coalesce(delimiter, ''), coalesce(encoding, ''), "
            ~ "coalesce(read_columns, '[]'), cast(to_json(list(read_path order by source_file)) as varchar) "
            ~ "from " ~ files ~ " where source_table = '" ~ table_name ~ "' "
            ~ "and status <> 'unreadable'" ~ file_filter ~ " group by all order by all"
        ) -%}
        {%- for row in found.rows -%}
            {%- do groups.append({
                'format': row[0], 'delimiter': row[1], 'encoding': row[2],
                'columns': fromjson(row[3]), 'paths': fromjson(row[4])
            }) -%}
        {%- endfor -%}
        {{ log("read_landing " ~ table_name ~ ": " ~ groups | map(attribute='paths') | map('length') | sum
               ~ " readable file(s) in " ~ groups | length ~ " reader(s)") }}
    {%- endif -%}
    with

    landing_rows as (
        {#- typed empty template: supplies every contract column even if no file has it -#}
        select
            {%- for column in columns %}
            cast(null as varchar) as {{ column }},
            {%- endfor %}
            cast(null as varchar) as filename,
            cast(null as bigint) as source_line
        where false
        {%- for group in groups %}
        {%- set paths = [] -%}
        {%- for path in group.paths -%}
            {%- do paths.append("'" ~ (path | replace("'", "''")) ~ "'") -%}
        {%- endfor %}
        union all by name
        {%- if group.format == 'parquet' %}
        select
            cast(columns(* exclude (filename, file_row_number)) as varchar),
            filename,
            file_row_number + 1 as source_line
        from read_parquet(
            [{{ paths | join(', ') }}],
            union_by_name = true, filename = true, file_row_number = true
        )
        {%- else %}
        {%- set repaired = '_source_line' in group.columns %}
        select
            {%- if repaired %}
            * exclude (ordinality, _source_line),
            cast(_source_line as bigint) as source_line
            {%- else %}
            * exclude (ordinality),
            ordinality - min(ordinality) over (partition by filename) + 2 as source_line
            {%- endif %}
        from read_csv(
            [{{ paths | join(', ') }}],
            auto_detect = false, header = true, all_varchar = true, filename = true,
            columns = { {%- for column in group.columns %}'{{ column }}': 'varchar'{{ ", " if not loop.last }}{% endfor -%} },
            delim = '{{ group.delimiter | replace("'", "''") }}', quote = '"', escape = '"',
            encoding = '{{ group.encoding }}', strict_mode = true,
            max_line_size = {{ segmentwerk.landing_max_line_bytes() }}
        ) with ordinality
        {%- endif %}
        {%- endfor %}
    ),

    preflight_files as (
        select
            source_file, read_path, status, reason, size_bytes,
            {{ segmentwerk.landing_file_version(files) }} as landing_file_version
        from {{ files }}
        where source_table = '{{ table_name }}'{{ file_filter }}
    ),

    final as (
        select
            {%- for column in columns %}
            cast(landing_rows.{{ column }} as varchar) as {{ column }},
            {%- endfor %}
            preflight_files.source_file,
            cast(landing_rows.source_line as bigint) as source_line,
            cast(null as varchar) as landing_error,
            cast(null as varchar) as landing_record,
            preflight_files.landing_file_version
        from landing_rows
        inner join preflight_files
            on preflight_files.read_path = landing_rows.filename
        union all
        -- lines the preflight could not split into a record
        select
            {%- for column in columns %}
            cast(null as varchar) as {{ column }},
            {%- endfor %}
            rejects.source_file,
            cast(rejects.source_line as bigint) as source_line,
            rejects.reason as landing_error,
            rejects.record as landing_record,
            preflight_files.landing_file_version
        from {{ rejects }} as rejects
        inner join preflight_files
            on preflight_files.source_file = rejects.source_file
        where rejects.source_table = '{{ table_name }}'
        union all
        -- files that cannot be read at all: one row each, without a line
        select
            {%- for column in columns %}
            cast(null as varchar) as {{ column }},
            {%- endfor %}
            source_file,
            cast(null as bigint) as source_line,
            'unreadable file: ' || reason || ' (' || source_file || ')' as landing_error,
            {{ segmentwerk.json_record([
                ('file', 'source_file'), ('size_bytes', 'size_bytes'), ('reason', 'reason')
            ]) }} as landing_record,
            landing_file_version
        from preflight_files
        where status = 'unreadable'
    )

    select * from final
{%- endmacro %}
