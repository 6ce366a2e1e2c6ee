"""The run's console: the terminal gets the run's own lines; what Python, a C library or a child
process writes meanwhile goes to the log file (or, with --verbose, stays on the terminal)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = """
import os, subprocess, sys, warnings
from pathlib import Path
from powerseg.console import RunConsole

with RunConsole(Path(sys.argv[1]), verbose=sys.argv[2] == "verbose") as console:
    console.say("step 1 ok")
    print("a DEBUG event line")
    warnings.warn("a library warning")
    os.write(1, b"written on fd 1\\n")
    subprocess.run([sys.executable, "-c", "import sys; sys.stderr.write('child stderr\\\\n')"])
    console.tell("waiting for the slot")
print("after the run")
"""


def run(tmp_path, mode: str):
    log = tmp_path / "logs" / "run.log"
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT), str(log), mode],
        capture_output=True,
        text=True,
        check=True,
    )
    return done, log


def test_quiet_console_sends_everything_else_to_the_log(tmp_path):
    done, log = run(tmp_path, "quiet")
    assert done.stdout.splitlines() == ["step 1 ok", "after the run"]
    assert done.stderr.splitlines() == ["waiting for the slot"]
    text = log.read_text()
    for line in ("a DEBUG event line", "a library warning", "written on fd 1", "child stderr"):
        assert line in text


def test_verbose_console_shows_everything(tmp_path):
    done, log = run(tmp_path, "verbose")
    assert "a DEBUG event line" in done.stdout and "child stderr" in done.stderr
    assert "step 1 ok" in done.stdout and not log.exists()
