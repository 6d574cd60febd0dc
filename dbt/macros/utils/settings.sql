{#- Run settings read from the environment (set by the Python caller, defaults for a bare dbt run).
    Read with env_var() so that dbt tracks them; never through --vars. -#}

{% macro landing_dir() -%}
    {{- return(env_var('LANDING_DIR', '../warehouse/landing').rstrip('/')) -}}
{%- endmacro %}

{% macro reporting_currency() -%}
    {%- set currency = env_var('REPORTING_CURRENCY', 'EUR') | trim | upper -%}
    {%- if not modules.re.match('^[A-Z]{3}$', currency) -%}
        {{ exceptions.raise_compiler_error("REPORTING_CURRENCY must be a 3-letter ISO code, got '" ~ currency ~ "'") }}
    {%- endif -%}
    {{- return(currency) -}}
{%- endmacro %}

{#- The timestamp of this dbt invocation: one value for every row written by the run. -#}
{% macro loaded_at() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as timestamp)
{%- endmacro %}
