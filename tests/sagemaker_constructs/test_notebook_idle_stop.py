"""The notebook's idle check, run as cron runs it: a real Jupyter-like sessions API and a fake `aws`."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from sagemaker_constructs.notebook import IDLE_STOP_SCRIPT, on_start_script

NOTEBOOK = "explore-1"


class _Jupyter:
    """Answers GET /api/sessions with `sessions`, like the notebook's local Jupyter server."""

    def __init__(self) -> None:
        self.sessions: list[dict[str, Any]] = []
        jupyter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = json.dumps(jupyter.sessions).encode()
                self.send_response(200 if self.path == "/api/sessions" else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/api/sessions"

    def kernel(self, state: str, minutes_ago: float) -> None:
        when = datetime.now(UTC) - timedelta(minutes=minutes_ago)
        self.sessions.append(
            {"kernel": {"execution_state": state, "last_activity": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}}
        )


@pytest.fixture
def jupyter() -> Iterator[_Jupyter]:
    server = _Jupyter()
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def instance(tmp_path: Path) -> Path:
    """Metadata naming the instance, an uptime file, and an `aws` on PATH that records its arguments."""
    (tmp_path / "metadata.json").write_text(json.dumps({"ResourceName": NOTEBOOK}))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    aws = bin_dir / "aws"
    aws.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "aws-calls"}\n')
    aws.chmod(aws.stat().st_mode | stat.S_IEXEC)
    return tmp_path


def _run(
    script: Path, jupyter: _Jupyter, instance: Path, *, idle_minutes: int = 60, up_minutes: float = 600
) -> subprocess.CompletedProcess[str]:
    (instance / "uptime").write_text(f"{up_minutes * 60:.2f} 1234.00\n")
    return subprocess.run(
        [
            sys.executable,
            str(script),
            str(idle_minutes),
            "--sessions-url",
            jupyter.url,
            "--metadata-file",
            str(instance / "metadata.json"),
            "--uptime-file",
            str(instance / "uptime"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PATH": f"{instance / 'bin'}{os.pathsep}{os.environ['PATH']}"},
    )


def _stopped(instance: Path) -> list[str]:
    calls = instance / "aws-calls"
    return calls.read_text().splitlines() if calls.exists() else []


def test_kernels_idle_longer_than_the_limit_stop_the_instance(jupyter: _Jupyter, instance: Path) -> None:
    """GIVEN two idle kernels, last active 90 and 70 minutes ago
    WHEN the check runs with a 60-minute limit
    THEN it stops this notebook instance, naming it from the metadata."""
    jupyter.kernel("idle", 90)
    jupyter.kernel("idle", 70)
    result = _run(IDLE_STOP_SCRIPT, jupyter, instance)
    assert result.returncode == 0, result.stderr
    assert _stopped(instance) == [f"sagemaker stop-notebook-instance --notebook-instance-name {NOTEBOOK}"]
    assert "idle for 70 minutes" in result.stdout


@pytest.mark.parametrize(
    ("kernels", "up_minutes"),
    [
        ([("busy", 600)], 600),
        ([("idle", 600), ("idle", 30)], 600),
        ([], 20),
        ([("idle", 59)], 600),
    ],
    ids=["busy-kernel", "one-recent-kernel", "fresh-instance", "just-under-the-limit"],
)
def test_activity_within_the_limit_keeps_it_running(
    jupyter: _Jupyter, instance: Path, kernels: list[tuple[str, float]], up_minutes: float
) -> None:
    """GIVEN a busy kernel, a recent one, or an instance started less than the limit ago
    WHEN the check runs with a 60-minute limit
    THEN it leaves the instance running."""
    for state, minutes_ago in kernels:
        jupyter.kernel(state, minutes_ago)
    result = _run(IDLE_STOP_SCRIPT, jupyter, instance, up_minutes=up_minutes)
    assert result.returncode == 0, result.stderr
    assert _stopped(instance) == []


def test_no_sessions_on_an_instance_up_longer_than_the_limit_stop_it(jupyter: _Jupyter, instance: Path) -> None:
    """GIVEN no sessions on an instance up for 2 hours
    WHEN the check runs with a 60-minute limit
    THEN it stops the instance (its start counts as the last activity)."""
    result = _run(IDLE_STOP_SCRIPT, jupyter, instance, up_minutes=120)
    assert result.returncode == 0, result.stderr
    assert len(_stopped(instance)) == 1


def test_an_unreachable_jupyter_fails_loudly_without_stopping(instance: Path) -> None:
    """GIVEN no Jupyter server answering
    WHEN the check runs
    THEN it exits non-zero (cron logs it) and stops nothing."""
    gone = _Jupyter()
    gone.server.server_close()
    result = _run(IDLE_STOP_SCRIPT, gone, instance)
    assert result.returncode != 0
    assert _stopped(instance) == []


def test_a_limit_below_one_minute_is_rejected(jupyter: _Jupyter, instance: Path) -> None:
    """GIVEN an idle limit of 0 WHEN the check runs THEN it refuses, naming the argument, and stops nothing."""
    result = _run(IDLE_STOP_SCRIPT, jupyter, instance, idle_minutes=0)
    assert result.returncode == 2
    assert "idle_minutes must be at least 1, got 0" in result.stderr
    assert _stopped(instance) == []


def test_the_on_start_script_installs_this_file_unchanged_and_runs_it_every_5_minutes(
    tmp_path: Path, jupyter: _Jupyter, instance: Path
) -> None:
    """GIVEN the on-start script for a 45-minute limit
    WHEN its embedded check is extracted and run
    THEN it is the asset byte for byte, the cron line passes 45, and it stops an idle instance."""
    script = on_start_script(45)
    embedded = re.search(r"<<'PY'\n(.*?)^PY$", script, re.DOTALL | re.MULTILINE)
    assert embedded is not None
    assert embedded.group(1) == IDLE_STOP_SCRIPT.read_text()
    assert re.search(r"^echo \"\*/5 \* \* \* \* root \$CHECK .*/etc/cron\.d/stop-when-idle$", script, re.MULTILINE)
    assert 'stop-when-idle.py 45"' in script
    installed = tmp_path / "stop-when-idle.py"
    installed.write_text(embedded.group(1))
    jupyter.kernel("idle", 50)
    assert _run(installed, jupyter, instance, idle_minutes=45).returncode == 0
    assert len(_stopped(instance)) == 1
    assert subprocess.run(["bash", "-n"], input=script, text=True, check=False).returncode == 0
