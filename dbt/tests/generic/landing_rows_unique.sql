{#- (source_file, source_line) is unique in an incremental landing model (incremental_landing.sql),
    checked where it can break: in the files that got rows in the latest build (`loaded_at`;
    re-judged rows carry it too). A file without new rows only lost rows, which cannot make a
    line repeat. The first build checks every file; a monthly build checks one month instead of
    scanning a hundred million events. -#}
{% test landing_rows_unique(model) %}
with

latest_build as (
    select max(loaded_at) as loaded_at from {{ model }}
),

touched_files as (
    select distinct source_file
    from {{ model }}
    where loaded_at = (select loaded_at from latest_build)
)

select
    source_file,
    source_line,
    count(*) as occurrences
from {{ model }}
where source_file in (select source_file from touched_files)
group by source_file, source_line
having count(*) > 1
{% endtest %}
