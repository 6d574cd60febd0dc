{#- Small, portable helpers for parsing dirty varchar input (PORTABLE_SQL rule 2: try_cast). -#}

{% macro clean_string(expr) -%}
    nullif(trim({{ expr }}), '')
{%- endmacro %}

{% macro clean_upper(expr) -%}
    upper(nullif(trim({{ expr }}), ''))
{%- endmacro %}

{% macro clean_lower(expr) -%}
    lower(nullif(trim({{ expr }}), ''))
{%- endmacro %}

{% macro parse_timestamp(expr) -%}
    try_cast(nullif(trim({{ expr }}), '') as timestamp)
{%- endmacro %}

{% macro parse_date(expr) -%}
    cast(try_cast(nullif(trim({{ expr }}), '') as timestamp) as date)
{%- endmacro %}

{% macro parse_amount(expr) -%}
    try_cast(nullif(trim({{ expr }}), '') as decimal(18, 2))
{%- endmacro %}

{% macro parse_boolean(expr) -%}
    case
        when lower(trim({{ expr }})) in ('true', 't', '1', 'yes', 'y') then true
        when lower(trim({{ expr }})) in ('false', 'f', '0', 'no', 'n') then false
    end
{%- endmacro %}

{#- A value is given but does not parse: distinguishes "unparsable" from "missing". -#}
{% macro is_unparsable(raw_expr, parsed_expr) -%}
    ({{ clean_string(raw_expr) }} is not null and {{ parsed_expr }} is null)
{%- endmacro %}

{#- Stable fingerprint of a row's content, used to tell identical duplicates from conflicting ones. -#}
{% macro row_fingerprint(columns) -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- do parts.append("coalesce(cast(" ~ column ~ " as " ~ dbt.type_string() ~ "), '<null>')") -%}
        {%- if not loop.last -%}{%- do parts.append("'|'") -%}{%- endif -%}
    {%- endfor -%}
    {{ dbt.hash(dbt.concat(parts)) }}
{%- endmacro %}

{#- Personal fields in a quarantined record are replaced by a marker; null stays null. -#}
{% macro mask_personal(expr) -%}
    case when {{ clean_string(expr) }} is null then null else '***' end
{%- endmacro %}

{#- Trimmed, lower-case e-mail; null unless it looks like an address (x@y.z). -#}
{% macro normalize_email(expr) -%}
    case
        when lower(trim({{ expr }})) like '%_@_%._%' and lower(trim({{ expr }})) not like '% %'
            then lower(trim({{ expr }}))
    end
{%- endmacro %}
