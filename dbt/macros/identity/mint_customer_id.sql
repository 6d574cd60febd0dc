{#-
    mint_customer_id(expr): a new customer id, 'cus_' || the first 16 hex of md5(salt || expr).

    The salt (`SEGMENTWERK_ID_SALT`, derived from the installation's secret in
    `<warehouse>.privacy/`, see `SuppressionStore.customer_id_salt` in
    dagster_project/lib/privacy/erasure.py) makes ids pseudonymous:
    without it, anyone holding an e-mail address could compute the id of a guest anchored on
    it and find that person in the published marts. Ids already in the registry never change,
    so a new salt only affects ids minted after it. Empty (unit tests, bare dbt runs) = unsalted.
-#}
{% macro mint_customer_id(expr) -%}
    {{ dbt.concat(["'cus_'", 'substring(' ~ dbt.hash(dbt.concat([
        "'" ~ (env_var('SEGMENTWERK_ID_SALT', '') | replace("'", "''")) ~ "'", expr
    ])) ~ ', 1, 16)']) }}
{%- endmacro %}
