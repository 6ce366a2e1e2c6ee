"""The `powerseg` command line and the benchmark: the outermost layer, above the Dagster code
location it runs; nothing in powerseg/, ml/ or orchestration/ imports it."""
