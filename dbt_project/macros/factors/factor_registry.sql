{#- Generated from the factor registry (ml/registry.py) by `make contract`; do not edit. -#}
{#- The feature mart of every factor, in registry order. -#}
{% macro factor_feature_marts() %}
{{ return([
    'fct_features_contribution',
    'fct_features_outage_sensitivity',
    'fct_features_arrears',
    'fct_features_channel_activity',
    'fct_features_inspection',
]) }}
{% endmacro %}
