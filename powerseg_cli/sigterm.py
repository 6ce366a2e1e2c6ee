"""SIGTERM during `powerseg run` (systemd, a cron timeout, `kill`): the run stops within 30 s,
is marked failed, frees its slots and leaves no child process behind."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import psutil
from dagster import DagsterInstance

from powerseg.console import RunConsole
from powerseg_cli.exit_status import EXIT_TERMINATED

# Seconds a SIGTERM leaves the run to stop at its next step boundary before it is cut short.
TERMINATE_GRACE_SECONDS = 20.0


class StopOnSigterm:
    """SIGTERM (systemd, a cron timeout, `kill`) stops a run within 30 s and leaves nothing behind.

    While the run executes, Dagster treats SIGTERM as Ctrl-C: the step stops at once (dbt's
    subprocess is told to stop), the run is marked failed and its pool slots are freed. The signal
    is also seen here, through the interpreter's wakeup file descriptor (whichever handler is
    installed): the run ends with EXIT_TERMINATED and, should the step not return within
    TERMINATE_GRACE_SECONDS (a long warehouse query), the run is marked failed, its slots freed,
    its child processes killed and the process exits; the OS then frees the run lock.
    """

    def __init__(self) -> None:
        self.requested = False
        self.console: RunConsole | None = None  # where its lines go while the run executes
        self._run_id: str | None = None
        self._previous_handler = None
        self._previous_fd = -1
        self._pipe: tuple[int, int] | None = None

    def __enter__(self) -> StopOnSigterm:
        read, write = os.pipe()
        os.set_blocking(write, False)
        self._pipe = (read, write)
        self._previous_fd = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
        threading.Thread(target=self._watch, args=(read,), daemon=True).start()
        self._previous_handler = signal.signal(signal.SIGTERM, self._before_the_run)
        return self

    def __exit__(self, *exc) -> None:
        signal.signal(signal.SIGTERM, self._previous_handler or signal.SIG_DFL)
        signal.set_wakeup_fd(self._previous_fd)
        if self._pipe is not None:
            os.close(self._pipe[1])  # ends the watcher

    def arm(self, run_id: str) -> None:
        self._run_id = run_id

    def _before_the_run(self, signum, frame) -> None:
        if self._run_id is None:  # nothing started yet: leave at once
            self._requested_now()
            raise KeyboardInterrupt

    def _watch(self, read: int) -> None:
        with os.fdopen(read, "rb", buffering=0) as wakeups:
            while chunk := wakeups.read(64):
                if signal.SIGTERM in chunk and not self.requested:
                    self._requested_now()
                    threading.Thread(target=self._cut_short, daemon=True).start()

    def _requested_now(self) -> None:
        if not self.requested:
            self.requested = True
            self._tell(
                "SIGTERM received: stopping the run at its current step "
                f"(cut short after {TERMINATE_GRACE_SECONDS:.0f} s)"
            )

    def _cut_short(self) -> None:
        time.sleep(TERMINATE_GRACE_SECONDS)
        if self._run_id is not None:
            with DagsterInstance.get() as instance:
                run = instance.get_run_by_id(self._run_id)
                if run is not None and not run.is_finished:
                    instance.report_run_failed(run, message="Stopped by SIGTERM.")
                self.release_slots(instance)
        for child in psutil.Process().children(recursive=True):
            child.kill()
        self._tell("powerseg run STOPPED on SIGTERM (cut short)")
        os._exit(EXIT_TERMINATED)

    def _tell(self, text: str) -> None:
        if self.console is not None:
            self.console.tell(text)
        else:
            print(text, file=sys.stderr, flush=True)

    def release_slots(self, instance) -> None:
        if self._run_id is not None:
            instance.event_log_storage.free_concurrency_slots_for_run(self._run_id)
