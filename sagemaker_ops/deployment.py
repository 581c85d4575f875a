"""What is deployed in one environment: names read from its stacks' outputs and resources."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError

from config import EnvironmentConfig


class NotDeployedError(LookupError):
    """A stack, output or resource the command needs does not exist; the message says which."""


@dataclass(frozen=True)
class Stack:
    """One deployed stack: its status, outputs and resources (logical id -> type, physical id)."""

    name: str
    status: str
    last_updated: str
    outputs: dict[str, str]
    resources: dict[str, tuple[str, str]] = field(default_factory=dict)

    def output(self, key: str) -> str:
        try:
            return self.outputs[key]
        except KeyError:
            known = ", ".join(sorted(self.outputs)) or "none"
            raise NotDeployedError(f"stack {self.name} has no output {key!r} (outputs: {known})") from None

    def physical_ids(self, resource_type: str) -> list[str]:
        return sorted(physical for kind, physical in self.resources.values() if kind == resource_type)


class Deployment:
    """The stacks of one environment, looked up lazily through CloudFormation.

    `session` carries profile and region; `endpoint_url` points every client at another endpoint
    (an emulator); boto3 also honours `AWS_ENDPOINT_URL` on its own.
    """

    def __init__(self, settings: EnvironmentConfig, session: boto3.Session, endpoint_url: str | None = None) -> None:
        self.settings = settings
        self.session = session
        self.endpoint_url = endpoint_url
        self._stacks: dict[str, Stack] = {}
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        """The environment's client of `service`, made once: making one parses the service's whole API model."""
        if service not in self._clients:
            self._clients[service] = self.session.client(service, endpoint_url=self.endpoint_url)
        return self._clients[service]

    def stack_name(self, stack_id: str) -> str:
        return f"{self.settings.name.stage_id}-{stack_id}"

    def stack(self, stack_id: str) -> Stack:
        """`<Stage>-<stack_id>`, e.g. `Prod-Inference`, or NotDeployedError."""
        name = self.stack_name(stack_id)
        if name not in self._stacks:
            self._stacks[name] = _describe_stack(self.client("cloudformation"), name)
        return self._stacks[name]

    @property
    def endpoint_name(self) -> str:
        return self.stack("Inference").output("EndpointName")

    @property
    def inference_component_name(self) -> str | None:
        """The inference component callers name (InvokeEndpoint's InferenceComponentName); None when the endpoint
        hosts its model on a variant."""
        return self.stack("Inference").outputs.get("InferenceComponentName")

    @property
    def expected_endpoint_config(self) -> str:
        """The endpoint config the Inference stack created last: what the endpoint should run."""
        return _one(self.stack("Inference"), "AWS::SageMaker::EndpointConfig").split("/")[-1]

    @property
    def model_name(self) -> str:
        return _one(self.stack("Inference"), "AWS::SageMaker::Model").split("/")[-1]

    @property
    def state_machine_arn(self) -> str:
        return self.stack("Training").output("StateMachineArn")


def _one(stack: Stack, resource_type: str) -> str:
    found = stack.physical_ids(resource_type)
    if len(found) != 1:
        raise NotDeployedError(f"stack {stack.name} has {len(found)} resources of type {resource_type}, expected 1")
    return found[0]


def _describe_stack(cloudformation: Any, name: str) -> Stack:
    try:
        described = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as error:
        if "does not exist" in str(error):
            raise NotDeployedError(f"stack {name} is not deployed (in this account and region)") from None
        raise
    resources: dict[str, tuple[str, str]] = {}
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=name):
        for summary in page["StackResourceSummaries"]:
            resources[summary["LogicalResourceId"]] = (summary["ResourceType"], summary.get("PhysicalResourceId", ""))
    updated = described.get("LastUpdatedTime") or described.get("CreationTime")
    return Stack(
        name=name,
        status=described["StackStatus"],
        last_updated=updated.isoformat() if updated else "",
        outputs={o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])},
        resources=resources,
    )
