"""Stop this SageMaker notebook instance when no Jupyter kernel was busy or active for IDLE_MINUTES.

The notebook's lifecycle configuration installs this file and runs it from cron every 5 minutes,
as root: `python3 notebook_idle_stop.py IDLE_MINUTES`. It asks the local Jupyter server for its
sessions; the instance counts as active since it started, so a fresh instance is never stopped at
once. Self-contained and for the instance's system Python 3.7: the instance has no internet access
to install anything.

Exit status 0 when it did nothing or stopped the instance; anything else is a failure cron logs.
"""

from __future__ import annotations

import argparse
import json
import ssl
import subprocess
import sys
import time
import urllib.request
from datetime import datetime
from typing import Any

SESSIONS_URL = "https://localhost:8443/api/sessions"
METADATA_FILE = "/opt/ml/metadata/resource-metadata.json"
UPTIME_FILE = "/proc/uptime"


def last_activity(sessions: list[dict[str, Any]], started: float) -> float | None:
    """When a kernel was last active (epoch seconds, at least `started`); None while any is busy."""
    if any(s["kernel"]["execution_state"] == "busy" for s in sessions):
        return None
    activity = [_epoch(s["kernel"]["last_activity"]) for s in sessions]
    return max([*activity, started])


def _epoch(timestamp: str) -> float:
    # Jupyter writes ISO 8601 with a Z; Python 3.7's fromisoformat needs +00:00.
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


def _sessions(url: str) -> list[dict[str, Any]]:
    # The local Jupyter server has a self-signed certificate.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with urllib.request.urlopen(url, context=context, timeout=30) as answer:  # noqa: S310 - a fixed local URL
        sessions: list[dict[str, Any]] = json.load(answer)
    return sessions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("idle_minutes", type=int)
    parser.add_argument("--sessions-url", default=SESSIONS_URL)
    parser.add_argument("--metadata-file", default=METADATA_FILE)
    parser.add_argument("--uptime-file", default=UPTIME_FILE)
    args = parser.parse_args(argv)
    if args.idle_minutes < 1:
        parser.error(f"idle_minutes must be at least 1, got {args.idle_minutes}")
    now = time.time()
    with open(args.uptime_file) as uptime:  # noqa: PTH123 - kept to the 3.7 standard library idioms
        started = now - float(uptime.read().split()[0])
    last = last_activity(_sessions(args.sessions_url), started)
    if last is None or now - last <= args.idle_minutes * 60:
        return 0
    with open(args.metadata_file) as metadata:  # noqa: PTH123
        name = json.load(metadata)["ResourceName"]
    print(f"idle for {int((now - last) // 60)} minutes: stopping notebook instance {name}")  # noqa: T201
    subprocess.run(["aws", "sagemaker", "stop-notebook-instance", "--notebook-instance-name", name], check=True)  # noqa: S603, S607
    return 0


if __name__ == "__main__":
    sys.exit(main())
