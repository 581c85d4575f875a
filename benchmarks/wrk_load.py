"""POST one body again and again with wrk (keep-alive, one thread per connection), and what it measured.

The load generator of container_bench.py's cells that ../shared/bench/serve_bench.py does not make (another
protocol than CSV on /invocations, two loads at once). wrk 4.1 is what serve_bench.py uses (Debian `wrk`).
"""

from __future__ import annotations

import http.client
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# The port picker local SageMaker starts the container's hosts and servers with, for every benchmark.
from local_sagemaker.container import free_port as free_port  # noqa: PLC0414 - re-exported

_SCRIPT = """wrk.method = "POST"
wrk.headers["Content-Type"] = "{content_type}"
local file = io.open("{body}", "rb")
wrk.body = file:read("*a")
file:close()
"""


@dataclass(frozen=True)
class Load:
    url: str
    body: bytes
    content_type: str
    connections: int


@dataclass(frozen=True)
class Measured:
    requests: int
    seconds: float
    errors: int  # non-2xx answers and socket errors
    loadgen_cpu_s: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def require_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk; ../shared/bench/ref/setup.sh does it)")
    return found


def run(loads: list[Load], seconds: float) -> list[Measured]:
    """Run every load at once for `seconds`; one measurement per load, in order."""
    wrk = require_wrk()
    with tempfile.TemporaryDirectory(prefix="wrk-") as scratch:
        processes = []
        for index, load in enumerate(loads):
            body = Path(scratch) / f"body-{index}"
            body.write_bytes(load.body)
            script = Path(scratch) / f"post-{index}.lua"
            script.write_text(_SCRIPT.format(content_type=load.content_type, body=body))
            command = [wrk, f"-t{load.connections}", f"-c{load.connections}", f"-d{seconds:g}s", "--timeout", "60s"]
            processes.append(
                subprocess.Popen([*command, "-s", str(script), load.url], stdout=subprocess.PIPE, text=True)
            )
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        outputs = [process.communicate()[0] for process in processes]
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return [_parse(output, cpu / len(loads)) for output in outputs]


def _parse(output: str, cpu_s: float) -> Measured:
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)\b", output)
    if done is None:
        raise SystemExit(f"wrk printed no request count:\n{output}")
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[done.group(3)]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = int(non_2xx.group(1)) if non_2xx else 0
    errors += sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    return Measured(int(done.group(1)), float(done.group(2)) * scale, errors, cpu_s)


def wait_ready(port: int, path: str, seconds: float = 120.0) -> None:
    """Until GET `path` answers 200 on 127.0.0.1:`port`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", path)
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"nothing answered 200 on 127.0.0.1:{port}{path} within {seconds:.0f} s")
