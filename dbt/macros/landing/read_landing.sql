{#-
    read_landing(source_relation, columns)

    All rows of one landing table: every file `$LANDING_DIR/<table>/*.csv` and `*.parquet`,
    one folder per table (`source_relation.identifier` is the folder name, so models call it
    with `source('landing', '<table>')` and keep the lineage in the manifest).

    Returns a select with exactly these varchar columns: the given contract `columns`
    (a column missing from a file, or from every file, is null), then
        source_file  the file, relative to the landing dir (`shop_orders/shop_orders_2024-01.csv`)
        source_line  CSV: the line number (header = 1, first record = 2; records holding quoted
                     newlines count as one); Parquet: the 1-based row number.
    Extra columns in the files are ignored. An empty or missing folder gives an empty relation
    with the same columns, so absent optional tables do not break the build.
-#}
{% macro read_landing(source_relation, columns) -%}
    {{ return(adapter.dispatch('read_landing', 'segmentwerk')(source_relation, columns)) }}
{%- endmacro %}

{% macro default__read_landing(source_relation, columns) -%}
    {{ exceptions.raise_compiler_error("read_landing has no implementation for adapter '" ~ target.type ~ "'") }}
{%- endmacro %}

{% macro duckdb__read_landing(source_relation, columns) -%}
    {%- set folder = segmentwerk.landing_dir() ~ '/' ~ source_relation.identifier -%}
    {%- set csv_glob = (folder ~ '/*.csv') | replace("'", "''") -%}
    {%- set parquet_glob = (folder ~ '/*.parquet') | replace("'", "''") -%}
    {%- set found = namespace(csv=0, parquet=0) -%}
    {%- if execute -%}
        {#- Decided at execute time: which kinds of files exist right now. -#}
        {%- set counts = run_query(
            "select (select count(*) from glob('" ~ csv_glob ~ "')) as csv_files, "
            ~ "(select count(*) from glob('" ~ parquet_glob ~ "')) as parquet_files"
        ) -%}
        {%- set found.csv = counts.rows[0][0] -%}
        {%- set found.parquet = counts.rows[0][1] -%}
        {{ log("read_landing " ~ source_relation.identifier ~ ": " ~ found.csv ~ " csv, "
               ~ found.parquet ~ " parquet file(s) in " ~ folder) }}
    {%- endif -%}
    select
        {%- for column in columns %}
        cast({{ column }} as varchar) as {{ column }},
        {%- endfor %}
        regexp_extract(filename, '[^/\\]+[/\\][^/\\]+$') as source_file,
        cast(source_line as bigint) as source_line
    from (
        {#- typed empty template: supplies every contract column even if no file has it -#}
        select
            {%- for column in columns %}
            cast(null as varchar) as {{ column }},
            {%- endfor %}
            cast(null as varchar) as filename,
            cast(null as bigint) as source_line
        where false
        {%- if found.csv > 0 %}
        union all by name
        select
            * exclude (ordinality),
            ordinality - min(ordinality) over (partition by filename) + 2 as source_line
        from read_csv(
            '{{ csv_glob }}',
            header = true, all_varchar = true, union_by_name = true, filename = true
        ) with ordinality
        {%- endif %}
        {%- if found.parquet > 0 %}
        union all by name
        select
            cast(columns(* exclude (filename, file_row_number)) as varchar),
            filename,
            file_row_number + 1 as source_line
        from read_parquet(
            '{{ parquet_glob }}',
            union_by_name = true, filename = true, file_row_number = true
        )
        {%- endif %}
    ) as landing_rows
{%- endmacro %}
