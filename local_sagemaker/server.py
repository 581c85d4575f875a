"""moto in server mode on 127.0.0.1, on a free port, in its own process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from local_sagemaker.aws import emulator_client
from local_sagemaker.container import free_port

ACCOUNT = "123456789012"  # moto's default account, also the tests' fake account
REGION = "us-east-1"
STARTUP_SECONDS = 20.0
# The local SageMaker stops its containers first (a model server drains for up to 25 s).
STOP_SECONDS = 30.0
ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class MotoServer:
    """A running moto server: its URL and boto3 clients that talk to it."""

    url: str
    process: subprocess.Popen[bytes]

    def session(self) -> boto3.Session:
        # moto accepts any credentials; these are its documented dummies, never real ones.
        return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)  # noqa: S106

    def client(self, service: str) -> Any:
        """The process's client of `service` at this server (made once: local_sagemaker.aws.emulator_client)."""
        return emulator_client(self.url, service, region=REGION)

    def post(self, path: str, body: bytes) -> None:
        """A call to moto's own API (`/moto-api/...`), e.g. to queue endpoint results."""
        request = urllib.request.Request(  # noqa: S310 (always http://127.0.0.1)
            self.url + path, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310
            pass

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def start_moto_server(attempts: int = 3, *, module: str = "moto.server", log: Path | None = None) -> MotoServer:
    """Start `module` (`moto.server`, or `local_sagemaker`) on a free port of 127.0.0.1 and wait until it answers.

    Its output goes to `log` when given (the local SageMaker's: what a failed job's test shows).
    """
    for _ in range(attempts):
        port = free_port()
        with log.open("ab") if log else open(os.devnull, "wb") as output:  # noqa: PTH123
            process = subprocess.Popen(  # noqa: S603 - this interpreter running our own module
                [sys.executable, "-m", module, "-H", "127.0.0.1", "-p", str(port)],
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        server = MotoServer(f"http://127.0.0.1:{port}", process)
        if _answers(server):
            return server
        server.stop()  # another process took the port between bind and start: try another
    raise RuntimeError(f"moto server did not start in {attempts} attempts")


def _answers(server: MotoServer) -> bool:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(server.url + "/moto-api/data.json", timeout=1):  # noqa: S310
                return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    return False
