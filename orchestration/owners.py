"""Who answers for each part of the pipeline, as the Dagster UI names the owners of assets and
checks: one constant per team, so a team is spelled once.
"""

DATA_ENGINEERING = "team:data-engineering"  # the extract, raw tables, dbt models, quality gates
CUSTOMER_INSIGHT = "team:customer-insight"  # segments, labels, service, staff outputs, KPIs
MODEL_OWNERS = "team:model-owners"  # the five factor models
