"""What `powerseg run` shows on the terminal: one line per finished step, then the summary.

Everything else a run writes — Dagster's event lines, dbt's output, library warnings, anything a
subprocess prints — goes to the run's log file in the data folder (`logs/run-<run id>.log`) unless
the command was given `--verbose`; the Dagster instance keeps every event as well (the UI's run
page). The redirection is done on the process's file descriptors 1 and 2, so output of child
processes and C libraries is caught as well as Python's.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import TextIO


class RunConsole:
    """Context manager: while it is open, stdout and stderr go to `log_path` (unless `verbose`)
    and `say` / `tell` write to the terminal."""

    def __init__(self, log_path: Path, *, verbose: bool = False) -> None:
        self.log_path = log_path
        self.verbose = verbose
        self._saved: tuple[int, int] | None = None
        self._out: TextIO = sys.stdout
        self._err: TextIO = sys.stderr
        self._lock = threading.Lock()

    def __enter__(self) -> RunConsole:
        if self.verbose:
            return self
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        sys.stdout.flush()
        sys.stderr.flush()
        self._saved = (os.dup(1), os.dup(2))
        self._out = open(self._saved[0], "w", buffering=1, closefd=False)  # noqa: SIM115
        self._err = open(self._saved[1], "w", buffering=1, closefd=False)  # noqa: SIM115
        log = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        return self

    def __exit__(self, *exc) -> None:
        if self._saved is None:
            return
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(self._saved[0], 1)
        os.dup2(self._saved[1], 2)
        for stream in (self._out, self._err):
            stream.close()
        for fd in self._saved:
            os.close(fd)
        self._saved = None
        self._out, self._err = sys.stdout, sys.stderr

    def say(self, text: str) -> None:
        """A line for the terminal's stdout."""
        with self._lock:
            print(text, file=self._out, flush=True)

    def tell(self, text: str) -> None:
        """A line for the terminal's stderr (what went wrong, what the run waits for)."""
        with self._lock:
            print(text, file=self._err, flush=True)


class StepProgress:
    """Prints a line to the console for each step of run `run_id` as it ends, read from the
    Dagster instance's event log while the run executes (a background thread)."""

    def __init__(
        self, instance, run_id: str, total_steps: int, console: RunConsole, started: float
    ) -> None:
        self.instance, self.run_id, self.total = instance, run_id, total_steps
        self.console = console
        self.done = 0
        self._cursor: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._started = started  # time.monotonic() when the command started

    def __enter__(self) -> StepProgress:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.poll()  # whatever ended since the last look

    def _follow(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self.poll()
            except Exception:  # noqa: BLE001 - a progress line is never worth a failed run
                continue

    def poll(self) -> None:
        from dagster import DagsterEventType

        kinds = {DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE}
        while True:
            page = self.instance.get_records_for_run(
                self.run_id, cursor=self._cursor, of_type=kinds, limit=100
            )
            for record in page.records:
                self._print(record.event_log_entry.dagster_event)
            self._cursor = page.cursor
            if not page.has_more:
                return

    def _print(self, event) -> None:
        self.done += 1
        ok = event.event_type_value == "STEP_SUCCESS"
        duration = getattr(event.event_specific_data, "duration_ms", None)
        took = f"{duration / 1000:6.1f} s" if duration is not None else " " * 8
        elapsed = time.monotonic() - self._started
        width = len(str(self.total))
        self.console.say(
            f"  [{self.done:>{width}}/{self.total}] {'ok    ' if ok else 'FAILED'} "
            f"{event.step_key:<58} {took}   ({elapsed:5.0f} s)"
        )
