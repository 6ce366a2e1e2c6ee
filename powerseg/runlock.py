"""One writer per warehouse: `powerseg run` holds an exclusive lock beside the DuckDB file for the
whole run, so a second run on the same warehouse waits or stops with a message naming the holder.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any


class WarehouseLockedError(RuntimeError):
    """Another run holds the warehouse lock."""

    def __init__(self, lock_path: Path, holder: dict[str, Any], waited_seconds: float):
        self.lock_path, self.holder, self.waited_seconds = lock_path, holder, waited_seconds
        super().__init__(
            f"another powerseg run is writing this warehouse: {describe(holder)} holds "
            f"{lock_path}"
            + (f" (waited {waited_seconds:.0f} s)" if waited_seconds else "")
            + "; only one run may write a warehouse at a time. Wait for it to finish, or pass "
            "--wait-for-lock SECONDS to queue behind it."
        )


def lock_path_for(warehouse: str | Path) -> Path:
    return Path(f"{warehouse}.run-lock")


def describe(holder: dict[str, Any]) -> str:
    if not holder:
        return "a run whose details are not recorded"
    return (
        f"pid {holder.get('pid')} on {holder.get('host')} (as-of "
        f"{holder.get('as_of') or 'latest'}, started {holder.get('started_at')})"
    )


def _read_holder(handle: IO[str]) -> dict[str, Any]:
    handle.seek(0)
    try:
        return json.loads(handle.read() or "{}")
    except json.JSONDecodeError:
        return {}


@contextmanager
def warehouse_run_lock(
    warehouse: str | Path,
    *,
    wait_seconds: float = 0.0,
    details: dict[str, Any] | None = None,
    on_wait: Callable[[dict[str, Any]], None] | None = None,
    poll_seconds: float = 1.0,
) -> Iterator[Path]:
    """Hold the run lock of `warehouse` for the block; wait up to `wait_seconds` for it, then raise
    WarehouseLockedError. The OS releases the lock when the process dies, so a crashed run never
    leaves the warehouse locked; the holder's details are kept in the lock file for the message.
    """
    path = lock_path_for(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole block
    try:
        told = False
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waited = time.monotonic() - started
                if waited >= wait_seconds:
                    raise WarehouseLockedError(path, _read_holder(handle), waited) from None
                if not told and on_wait is not None:
                    on_wait(_read_holder(handle))
                    told = True
                time.sleep(poll_seconds)
        handle.seek(0)
        handle.truncate()
        handle.write(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    **(details or {}),
                }
            )
        )
        handle.flush()
        try:
            yield path
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        handle.close()
