{#-
    Incremental customer × day marts: rebuild only the rows whose inputs changed.

    fct_web_activity is a function of two inputs: the per-file daily key counts
    (int_web__daily_key_activity) and the identified keys (int_identity__identified_keys). A
    month changes few of its rows - the days of the new and re-read files, and the customers
    whose keys were identified, merged, split or erased - but rebuilding it from the whole
    history took ~57 s of every monthly run at a million customers.

    What the mart was last built from is remembered beside its plan model, in `intermediate`
    (the keys are personal data: never in a published schema), by the mart's post-hook, in the
    same transaction as its rows:
      <plan>__built_days   per day: count rows, events and a fingerprint of the counts, and the
                           mart's rules_version (its SQL's checksum)
      <plan>__built_keys   the identified keys (node_key, customer_id)
    The plan model (int_web__activity_changes) compares them with the inputs now and lists
      day            a day whose counts changed (new, re-read, removed or erased rows): every
                     row of the day is rebuilt
      customer       a customer that gained or lost counts because one of their keys, or a key
                     of counts they share, changed its customer: all their rows are rebuilt
      anonymous_day  a day whose anonymous counts (customer_id null) gained or lost rows so
    The `customer_days` strategy deletes the rows `customer_days_changed` names and inserts the
    rebuilt ones. No memory yet, or a changed SQL of the mart, rebuilds it in full.

    Erasure nulls customer_id in the mart in place and the account and e-mail of the counts
    (dagster_project/lib/privacy/erasure.py). Those days get another fingerprint; rebuilding
    them whole would rebuild every day of the history each month at a million customers, as
    erasures arrive every month. So the erasure moves the remembered fingerprints of those days
    by what its nulling changed (a day in step stays in step) and lists what the nulling
    moved in <plan>__erased: `anonymous_day` for the days of the counts, `customer` for every
    other customer of their keys. The plan takes these over and the post-hook clears them. It
    deletes the erased person's remembered keys, as it does every row naming them.
-#}

{#- A relation that remembers what the mart was last built from; `kind` is days or keys. -#}
{% macro customer_days_memory(plan_relation, kind) -%}
    {{ return(plan_relation.incorporate(path={'identifier': plan_relation.identifier ~ '__built_' ~ kind})) }}
{%- endmacro %}

{#- The changes an erasure made since the last build (see above): change, activity_date,
    customer_id, as in the plan. -#}
{% macro customer_days_erased(plan_relation) -%}
    {{ return(plan_relation.incorporate(path={'identifier': plan_relation.identifier ~ '__erased'})) }}
{%- endmacro %}

{#- The rows of the mart that builds have replaced and its key test has not yet passed on:
    change ('every row', 'day' or 'customer'), activity_date, customer_id. The post-hook adds
    what the build replaced; the on-run-end hook `clear_verified_customer_days` empties it once
    `unique_in_rebuilt_customer_days` passed. A build whose test failed, or never ran, stays
    in it: the next test checks those rows again. -#}
{% macro customer_days_unverified(plan_relation) -%}
    {{ return(plan_relation.incorporate(path={'identifier': plan_relation.identifier ~ '__unverified'})) }}
{%- endmacro %}

{% macro create_customer_days_unverified(unverified) -%}
    create table if not exists {{ unverified }} (
        change {{ dbt.type_string() }}, activity_date date, customer_id {{ dbt.type_string() }}
    )
{%- endmacro %}

{#- True when the calling mart is built from every row: first build, full refresh, no memory,
    memory of another version of its SQL, or a plan not made by this dbt invocation (its
    inputs may have changed since). Called by the mart, again by the strategy and by the
    post-hook (`quiet`) before it renews the memory, so all see the same answer. -#}
{% macro customer_days_full_rebuild(plan_relation, quiet=false) -%}
    {%- if not (execute and is_incremental()) -%}{{ return(true) }}{%- endif -%}
    {%- set days = segmentwerk.customer_days_memory(plan_relation, 'days') -%}
    {%- set keys = segmentwerk.customer_days_memory(plan_relation, 'keys') -%}
    {%- if load_relation(days) is none or load_relation(keys) is none -%}{{ return(true) }}{%- endif -%}
    {%- set checks = run_query(
        "select count(*), coalesce(sum(case when rules_version = '" ~ segmentwerk.model_rules_version()
        ~ "' then 0 else 1 end), 0), (select count(*) from " ~ plan_relation
        ~ " where change = 'planned' and planned_in = '" ~ invocation_id ~ "') from " ~ days
    ).rows[0] -%}
    {%- set full = checks[0] == 0 or checks[1] > 0 or checks[2] == 0 -%}
    {%- if quiet -%}{{ return(full) }}{%- endif -%}
    {%- if full -%}
        {%- set changes = 'every row' -%}
    {%- else -%}
        {%- set changes = run_query(
            "select change, count(*) from " ~ plan_relation ~ " where change <> 'planned' group by 1"
        ).rows | map('join', ' ') | sort | join(', ') or 'nothing' -%}
    {%- endif -%}
    {{ log("customer_days " ~ this.identifier ~ ": " ~ changes, info=true) }}
    {{ return(full) }}
{%- endmacro %}

{#- The mart's rows that this build replaces, as a filter over its columns (unqualified). -#}
{% macro customer_days_changed(plan_relation) -%}
    (
        activity_date in (select activity_date from {{ plan_relation }} where change = 'day')
        or customer_id in (select customer_id from {{ plan_relation }} where change = 'customer')
        or (
            customer_id is null
            and activity_date in (select activity_date from {{ plan_relation }} where change = 'anonymous_day')
        )
    )
{%- endmacro %}

{#- The `customer_days` incremental strategy (dbt looks it up by this name). The mart names its
    plan model in the `customer_days_plan` config. -#}
{% macro get_incremental_customer_days_sql(arg_dict) -%}
    {%- set plan = ref(config.require('customer_days_plan')) -%}
    {%- if segmentwerk.customer_days_full_rebuild(plan) -%}
        {%- set replaced = '1 = 1' -%}
    {%- else -%}
        {%- set replaced = segmentwerk.customer_days_changed(plan) -%}
    {%- endif -%}
    {{ segmentwerk.delete_then_insert(arg_dict, replaced) }}
{%- endmacro %}

{#- Post-hook of the mart: remember the inputs it was built from (see above). -#}
{% macro remember_customer_days_inputs(plan_relation, day_fingerprints, identified_keys) -%}
    {%- set unverified = segmentwerk.customer_days_unverified(plan_relation) %}
    {{ segmentwerk.create_customer_days_unverified(unverified) }};
    insert into {{ unverified }}
    {%- if segmentwerk.customer_days_full_rebuild(plan_relation, quiet=true) %}
    select 'every row', cast(null as date), cast(null as {{ dbt.type_string() }})
    {%- else %}
    select change, activity_date, customer_id from {{ plan_relation }}
    where change in ('day', 'customer')
    {%- endif %}
    except
    select change, activity_date, customer_id from {{ unverified }};
    create or replace table {{ segmentwerk.customer_days_memory(plan_relation, 'days') }} as
    select *, '{{ segmentwerk.model_rules_version() }}' as rules_version from {{ day_fingerprints }};
    create or replace table {{ segmentwerk.customer_days_memory(plan_relation, 'keys') }} as
    select node_key, customer_id from {{ identified_keys }}
    {%- set erased = segmentwerk.customer_days_erased(plan_relation) %}
    {%- if load_relation(erased) is not none %};
    delete from {{ erased }}
    {%- endif %}
{%- endmacro %}

{#- The customer of web counts by their keys: the account's, else the e-mail's. `counts` is the
    alias of the counts, `keys` a relation of (node_key, customer_id); `name` prefixes the two
    joins. Use with customer_of_keys(name). -#}
{% macro join_customer_of_keys(counts, keys, name) -%}
    left join {{ keys }} as {{ name }}_by_account
        on {{ name }}_by_account.node_key = {{ dbt.concat(["'account:'", counts ~ '.shop_account_id']) }}
    left join {{ keys }} as {{ name }}_by_email
        on {{ name }}_by_email.node_key = {{ dbt.concat(["'email:'", counts ~ '.email_normalized']) }}
{%- endmacro %}

{% macro customer_of_keys(name) -%}
    coalesce({{ name }}_by_account.customer_id, {{ name }}_by_email.customer_id)
{%- endmacro %}

{#- The raw values of the node keys in `keys` (a relation with `node_key`) of one kind
    (`account`, `email`): the prefix is cut off the few keys rather than added to every count. -#}
{% macro key_values_of(keys, kind) -%}
    select substring(node_key, {{ (kind ~ ':') | length + 1 }}) from {{ keys }}
    where node_key like '{{ kind }}:%'
{%- endmacro %}

{#- A filter of web counts (unqualified columns): the account or the e-mail is one of the node
    keys in `keys`. -#}
{% macro counts_with_a_key_in(keys) -%}
    (
        shop_account_id in ({{ segmentwerk.key_values_of(keys, 'account') }})
        or email_normalized in ({{ segmentwerk.key_values_of(keys, 'email') }})
    )
{%- endmacro %}

{#- The opposite: neither the account nor the e-mail is one of the node keys in `keys` (a null
    key is none of them). -#}
{% macro counts_with_no_key_in(keys) -%}
    (
        coalesce(shop_account_id not in ({{ segmentwerk.key_values_of(keys, 'account') }}), true)
        and coalesce(email_normalized not in ({{ segmentwerk.key_values_of(keys, 'email') }}), true)
    )
{%- endmacro %}

{#- on-run-end: empty a customer-days mart's unverified rows once its key test passed in this
    invocation (see customer_days_unverified). Returns the SQL the hook runs. -#}
{% macro clear_verified_customer_days(results) -%}
    {%- set statements = [] -%}
    {%- if execute -%}
        {#- graph.nodes holds dicts: a singular test has no test_metadata -#}
        {%- for result in results if result.status == 'pass'
            and (graph.nodes.get(result.node.unique_id, {}).get('test_metadata') or {}).get('name')
                == 'unique_in_rebuilt_customer_days' -%}
            {%- set mart = graph.nodes[graph.nodes[result.node.unique_id].attached_node] -%}
            {%- set plan = graph.nodes['model.' ~ project_name ~ '.' ~ mart.config.customer_days_plan] -%}
            {%- set unverified = segmentwerk.customer_days_unverified(api.Relation.create(
                database=plan.database, schema=plan.schema, identifier=plan.alias
            )) -%}
            {#- created if missing rather than looked up: dbt's relation cache does not know a
                table that a post-hook of this invocation created -#}
            {%- do statements.append(segmentwerk.create_customer_days_unverified(unverified)) -%}
            {%- do statements.append('delete from ' ~ unverified) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ (statements | join(';\n')) if statements else 'select 1' }}
{%- endmacro %}
