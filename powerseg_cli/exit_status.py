"""Exit statuses of `powerseg run` / `backfill` beyond 0 (success), 1 (failed) and 2 (refused),
for cron and supervisors to tell "try again later" from "fix something"."""

# A run refused because another run holds the warehouse (EX_TEMPFAIL).
EXIT_LOCKED = 75
# A run stopped by SIGTERM (128 + 15, as a shell reports it).
EXIT_TERMINATED = 143
