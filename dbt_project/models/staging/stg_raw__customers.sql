{{ config(materialized='table') }}
{{ stage_source('customers') }}
