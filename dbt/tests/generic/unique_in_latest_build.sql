{#- `columns` are unique in an incremental model, checked where they can break: in the files
    that got rows in the latest build (`loaded_at_column`). A file without new rows only lost
    rows, which cannot make a key repeat. The first build checks every file; a monthly build
    checks one month instead of scanning a hundred million events.
    Used for the landing models (incremental_landing.sql: re-judged rows carry the build's
    loaded_at too) and the aggregates built from them (incremental_by_source_file.sql).
    The touched files are looked up first and written into the query as literals: a filter
    by constants is pushed into the scan, which then reads the key columns of those files
    only (with a subquery instead, the test of the 36M-row web aggregate read every row:
    24 s instead of 2 s at a million customers). -#}
{% test unique_in_latest_build(model, columns=['source_file', 'source_line'], loaded_at_column='loaded_at') %}
{%- set touched_files = [] -%}
{%- if execute -%}
    {%- set found = run_query(
        "select distinct source_file from " ~ model ~ " where " ~ loaded_at_column
        ~ " = (select max(" ~ loaded_at_column ~ ") from " ~ model ~ ")"
    ) -%}
    {%- for row in found.rows -%}{%- do touched_files.append(row[0]) -%}{%- endfor -%}
{%- endif %}
select
    {{ columns | join(', ') }},
    count(*) as occurrences
from {{ model }}
where source_file in {{ segmentwerk.landing_file_list(touched_files) }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
