{#- Helpers shared by the `base_*` staging models, which parse one landing table and give every
    row either a null `quarantine_reason` (accepted) or the first reason it cannot be used. -#}

{#- The raw varchar columns, prefixed `raw_`, kept for the quarantine record, and what
    `read_landing` says about lines and files it could not read (`landing_error`,
    `landing_record`) and which version of the file the row came from. -#}
{% macro raw_landing_columns(columns) -%}
    {%- for column in columns %}
        {{ column }} as raw_{{ column }},
    {%- endfor %}
        landing_error,
        landing_record,
        landing_file_version,
{%- endmacro %}

{#- The first check of every row: a line or file that could not be read as a record. -#}
{% macro landing_check() -%}
    when landing_error is not null then landing_error
{%- endmacro %}

{#- JSON of the raw row with personal fields masked and long values cut (a quarantined row
    may hold a megabyte-sized field); only built for quarantined rows. Lines and files that
    never became a record bring their masked record from the preflight. -#}
{% macro quarantine_record(columns, personal=[]) -%}
    case
        when landing_record is not null then landing_record
        when quarantine_reason is not null then
        {%- set pairs = [] -%}
        {%- for column in columns -%}
            {%- if column in personal -%}
                {%- do pairs.append((column, segmentwerk.mask_personal('raw_' ~ column))) -%}
            {%- else -%}
                {%- do pairs.append((column, 'substring(raw_' ~ column ~ ', 1, 1000)')) -%}
            {%- endif -%}
        {%- endfor %}
        {{ segmentwerk.json_record(pairs) }}
    end
{%- endmacro %}

{#-
    Every row of `relation` (which has `row_reason`, `source_file`, `source_line`) plus its final
    `quarantine_reason`: its own check (`row_reason`), else a duplicate check among the rows that
    passed: several different contents under one key all go to the quarantine (nobody can tell
    which is right); identical copies collapse to the first (by file, line), the later copies are
    quarantined as duplicates so that every file still reconciles.
-#}
{% macro deduplicate(relation, key_columns, fingerprint_columns, key_label=none, parsed_relation='parsed') -%}
    {{ segmentwerk.apply_duplicate_decisions(relation, '(' ~ segmentwerk.duplicate_decisions(
        relation, key_columns, fingerprint_columns, key_label, parsed_relation) ~ ')') }}
{%- endmacro %}

{#- `relation` with its `quarantine_reason` from its own check or from `decisions`. -#}
{% macro apply_duplicate_decisions(relation, decisions) -%}
    select
        {{ relation }}.*,
        coalesce({{ relation }}.row_reason, duplicate_rows.duplicate_reason) as quarantine_reason
    from {{ relation }}
    left join {{ decisions }} as duplicate_rows
        on not duplicate_rows.is_existing
        and duplicate_rows.source_file = {{ relation }}.source_file
        and duplicate_rows.source_line = {{ relation }}.source_line
{%- endmacro %}

{#-
    The duplicate verdict (`duplicate_reason`, null = the row to keep) of every row whose key
    occurs more than once: (source_file, source_line, is_existing, duplicate_reason).

    Built for volume: the keys that occur more than once are found by one hash aggregate over
    `parsed_relation` (the rows before their checks: only the key columns are computed), and only
    those keys' rows are checked again, fingerprinted and ranked. A window over every row
    (partition by key) took minutes at 100M web events; fingerprinting every row took half of
    the rest. Keys of rows that pass their checks are never null (they are required fields), so
    plain equality joins them.

    In an incremental build (`load`, see incremental_landing.sql) the rows already in the table
    take part too (`is_existing`): a key repeats when it occurs twice among the new rows, or
    once among the new rows or the leaving rows (of replaced files) and once among the rows that
    stay. That probes the new keys against the key column of the table; nothing else is read.
-#}
{% macro duplicate_decisions(relation, key_columns, fingerprint_columns, key_label=none, parsed_relation='parsed', load=none) -%}
    {%- set fingerprint = segmentwerk.row_fingerprint(fingerprint_columns) -%}
    {%- set incremental = load is not none and load.incremental -%}
    {%- set key_names = [] -%}
    {%- for key in key_columns -%}{%- do key_names.append('duplicate_key_' ~ loop.index0) -%}{%- endfor %}
    {%- set partition = 'partition by ' ~ (key_names | join(', ')) -%}
    {%- set key_select -%}
        {%- for key in key_columns %}{{ key }} as {{ key_names[loop.index0] }}{{ ', ' if not loop.last }}{% endfor -%}
    {%- endset -%}
    {%- set key_group = key_columns | join(', ') -%}
    {%- set equal_parts = [] -%}
    {%- for key in key_columns -%}{%- do equal_parts.append(key ~ ' = {other}.' ~ key_names[loop.index0]) -%}{%- endfor -%}
    {%- set keys_equal = equal_parts | join(' and ') -%}
    {%- if incremental -%}
        {%- set replaced = segmentwerk.landing_file_list(load.replaced) -%}
        {#- no file replaced: every existing row stays (`not in (null)` would be null: none) -#}
        {%- set stays -%}
            {% if load.replaced %}existing.source_file not in {{ replaced }} and {% endif -%}
            {{ segmentwerk.passed_own_checks('existing.quarantine_reason') }}
        {%- endset -%}
    {%- endif %}
    {#- The new keys are counted once: the count finds the repeats among them, and the distinct
        keys are what the probe of the existing rows joins (a second hash of the 7.6M keys of a
        month's web events, for a `union`, cost 4-5 s of its 17-19 s at a million customers). #}
    with

    parsed_keys as (
        select {{ key_select }}, count(*) as occurrences
        from {{ parsed_relation }}
        group by {{ key_group }}
    ),

    repeated_keys as (
        select {{ key_names | join(', ') }}
        from parsed_keys
        where occurrences > 1
        {%- if incremental %}
        union
        select {{ key_select }}
        from {{ this }} as existing
        inner join (
            select {{ key_names | join(', ') }} from parsed_keys
            {%- if load.replaced %}
            union
            select {{ key_select }} from {{ this }} as leaving
            where leaving.source_file in {{ replaced }}
            and {{ segmentwerk.passed_own_checks('leaving.quarantine_reason') }}
            {%- endif %}
        ) as changed_keys
            on {{ keys_equal | replace('{other}', 'changed_keys') }}
        where {{ stays }}
        {%- endif %}
    ),

    candidates as (
        select
            {{ relation }}.source_file,
            {{ relation }}.source_line,
            false as is_existing,
            {%- for key in key_names %}
            repeated_keys.{{ key }},
            {%- endfor %}
            {{ fingerprint }} as fingerprint
        from {{ relation }}
        inner join repeated_keys
            on {{ keys_equal | replace('{other}', 'repeated_keys') }}
        where {{ relation }}.row_reason is null
        {%- if incremental %}
        union all
        select
            existing.source_file,
            existing.source_line,
            true as is_existing,
            {%- for key in key_names %}
            repeated_keys.{{ key }},
            {%- endfor %}
            {{ fingerprint }} as fingerprint
        from {{ this }} as existing
        inner join repeated_keys
            on {{ keys_equal | replace('{other}', 'repeated_keys') }}
        where {{ stays }}
        {%- endif %}
    )

    select
        source_file,
        source_line,
        is_existing,
        case
            when min(fingerprint) over ({{ partition }}) <> max(fingerprint) over ({{ partition }})
                then 'conflicting duplicate: {{ key_label or (key_columns | join(", ")) }}'
            when row_number() over ({{ partition }} order by source_file, source_line) > 1
                then 'duplicate row'
        end as duplicate_reason
    from candidates
{%- endmacro %}

{#- `value` must be given; when `parsed` is passed it must also parse. -#}
{% macro required_check(column, parsed=none, kind='value') -%}
    when {{ segmentwerk.clean_string('raw_' ~ column) }} is null then 'missing required field: {{ column }}'
    {%- if parsed is not none %}
    when {{ parsed }} is null then 'unparsable {{ kind }}: {{ column }}'
    {%- endif %}
{%- endmacro %}

{#- A timestamp later than tomorrow cannot be a real event yet; one before 1900 is a
    placeholder (0001-01-01, 1899-12-30 from spreadsheets), not a real event either. -#}
{% macro timestamp_range_check(column) -%}
    when {{ column }} > {{ dbt.dateadd('day', 1, dbt.current_timestamp()) }} then 'timestamp in the future: {{ column }}'
    when {{ column }} < cast('1900-01-01' as timestamp) then 'timestamp before 1900: {{ column }}'
{%- endmacro %}


{#- The base model of every landing table: what the quarantine and the reconciliation cover. -#}
{% macro landing_base_models() -%}
    {{ return([
        'base_crm__customers', 'base_shop__orders', 'base_shop__order_lines',
        'base_store__transactions', 'base_loyalty__cards', 'base_web__events',
        'base_marketing__prospects', 'base_finance__fx_rates', 'base_privacy__erasure_requests'
    ]) }}
{%- endmacro %}
