"""Test builders for the operations CLI: running it, and an environment whose AWS answers are botocore Stubbers."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from config import load_config
from sagemaker_ops import cli
from sagemaker_ops.deployment import Deployment, NotDeployedError, Stack

REGION = "us-east-1"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str], str]:
    """`python -m sagemaker_ops <args>`: the exit code, the lines on stderr and stdout."""
    code = cli.main(list(args))
    captured = capsys.readouterr()
    return code, captured.err.splitlines(), captured.out


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    """`python -m sagemaker_ops <args> --json`: the exit code and the one JSON document on stdout."""
    code = cli.main([*args, "--json"])
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return code, document


def usage_error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """`run_json` of a command line that must be refused as a usage error: the error line it gives."""
    code, document = run_json(capsys, *args)
    assert code == cli.USAGE, document
    return str(document["error"])


class StubbedDeployment(Deployment):
    """An environment with the given stacks, whose clients answer only what the test added to their Stubber."""

    def __init__(self, environment: str, stacks: dict[str, Stack] | None = None) -> None:
        session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)  # noqa: S106
        super().__init__(load_config().environment(environment), session)
        self._given = stacks or {}
        self._clients: dict[str, Any] = {}
        self._stubbers: dict[str, Stubber] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(service)
            self._stubbers[service] = Stubber(self._clients[service])
            self._stubbers[service].activate()
        return self._clients[service]

    def stubber(self, service: str) -> Stubber:
        """The Stubber of `service`'s client: add the answers the command should get, in order."""
        self.client(service)
        return self._stubbers[service]

    def stack(self, stack_id: str) -> Stack:
        try:
            return self._given[stack_id]
        except KeyError:
            raise NotDeployedError(f"stack {self.stack_name(stack_id)} is not deployed") from None

    def assert_no_pending_responses(self) -> None:
        for stubber in self._stubbers.values():
            stubber.assert_no_pending_responses()


def stack(stack_id: str, outputs: dict[str, str], resources: dict[str, tuple[str, str]] | None = None) -> Stack:
    return Stack(name=f"Dev-{stack_id}", status="UPDATE_COMPLETE", last_updated="", outputs=outputs,
                 resources=resources or {})  # fmt: skip


def use(monkeypatch: pytest.MonkeyPatch, deployment: Deployment) -> None:
    """Make the CLI run its commands against `deployment` (after checking every argument, as always)."""
    monkeypatch.setattr(cli, "_deployment", lambda _args, _settings: deployment)
