"""A promotion (new pin) updates the endpoint onto a new config; deleting the stacks keeps prod's data."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from local_sagemaker.deploy import DeployedStack, bootstrap, deploy, stack_artifacts, wait_for_stack
from local_sagemaker.server import MotoServer
from sagemaker_ops.cli import FAILED, OK, main
from tests.conftest import Synthesized
from tests.helpers import PROMOTED_PROD_PIN, config_with_prod_pin, register_approved_version, synthesize_once

NEW_PIN = PROMOTED_PROD_PIN


def _smoke(server: MotoServer, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    results = {"results": [{"Body": "[0.5]", "ContentType": "application/json"}]}
    server.post("/moto-api/static/sagemaker/endpoint-results", json.dumps(results).encode())
    code = main(["smoke", "--env", "prod", "--row", "1,2,3", "--endpoint-url", server.url, "--json"])
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return code, document


@pytest.mark.slow
def test_a_new_pin_moves_the_endpoint_to_a_new_config_and_deleting_keeps_prods_data(
    fresh_server: MotoServer,
    synthesized: Synthesized,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    server = fresh_server
    sagemaker, cloudformation = server.client("sagemaker"), server.client("cloudformation")
    # GIVEN prod deployed with the current pin
    outputs: dict[str, dict[str, str]] = {}
    artifacts = stack_artifacts(synthesized.outdir, "Prod")
    bootstrap(server, artifacts)
    stacks: dict[str, DeployedStack] = {}
    for artifact in artifacts:
        if artifact.stack_name == "Prod-Inference":  # versions 1 (the shipped pin) and 2 (the new one), approved
            for _ in range(2):
                register_approved_version(server, stacks["Prod-Platform"].outputs)
        stacks[artifact.stack_name] = deploy(server, artifact, outputs)
    endpoint = stacks["Prod-Inference"].outputs["EndpointName"]
    old_config = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]

    # WHEN the pin changes and the Inference stack is updated
    after = synthesize_once(config_with_prod_pin(NEW_PIN))
    updated = next(a for a in stack_artifacts(after.outdir, "Prod") if a.stack_name == "Prod-Inference")
    deploy(server, updated, outputs, template_suffix="-2")
    assert cloudformation.describe_stacks(StackName="Prod-Inference")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"

    # THEN the endpoint runs a new endpoint config, the stack's, serving the new pin (what smoke
    # checks after a deploy)
    running = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    assert running != old_config
    stack_config = cloudformation.describe_stack_resource(
        StackName="Prod-Inference", LogicalResourceId="EndpointConfig24AD0A28"
    )["StackResourceDetail"]["PhysicalResourceId"]
    assert running == stack_config.split("/")[-1]
    model = sagemaker.describe_endpoint_config(EndpointConfigName=running)["ProductionVariants"][0]["ModelName"]
    assert sagemaker.describe_model(ModelName=model)["PrimaryContainer"]["ModelPackageName"].endswith(f"/{NEW_PIN}")
    code, result = _smoke(server, capsys)
    assert code == OK, result

    # AND WHEN SageMaker silently rolled back (the endpoint runs another config than the stack's)
    variants = sagemaker.describe_endpoint_config(EndpointConfigName=running)["ProductionVariants"]
    sagemaker.create_endpoint_config(EndpointConfigName="rolled-back", ProductionVariants=variants)
    sagemaker.delete_endpoint(EndpointName=endpoint)
    sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName="rolled-back")
    # THEN smoke fails and says so
    code, result = _smoke(server, capsys)
    assert code == FAILED
    assert "did not take effect" in result["error"]

    # AND WHEN both stacks are deleted (Inference first, as `cdk destroy` orders them)
    _detach_managed_policies(server, stacks["Prod-Platform"])
    for name in ("Prod-Inference", "Prod-Platform"):
        stack_id = cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackId"]
        cloudformation.delete_stack(StackName=name)
        assert wait_for_stack(server, stack_id)["StackStatus"] == "DELETE_COMPLETE"
    # THEN exactly the resources with DeletionPolicy Retain are still there: buckets, key, image
    # repository, log groups (prod keeps its data)
    exists = _existence(server)
    retained = []
    for stack in stacks.values():
        for logical_id, resource in stack.artifact.template()["Resources"].items():
            if resource["Type"] in exists:
                kept = exists[resource["Type"]](stack.physical_ids[logical_id])
                assert kept == (resource.get("DeletionPolicy") == "Retain"), (logical_id, kept)
                retained.append(resource["Type"]) if kept else None
    assert set(retained) == set(exists)
    roles = {r["RoleName"] for r in server.client("iam").list_roles()["Roles"]}
    assert stacks["Prod-Platform"].outputs["ExecutionRoleArn"].split("/")[-1] not in roles


def _detach_managed_policies(server: MotoServer, stack: DeployedStack) -> None:
    """moto deletes in template order and refuses a role with a policy attached (adaptations.py)."""
    iam = server.client("iam")
    for logical_id, resource in stack.artifact.template()["Resources"].items():
        if resource["Type"] == "AWS::IAM::Role":
            role = stack.physical_ids[logical_id]
            for policy in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
                iam.detach_role_policy(RoleName=role, PolicyArn=policy["PolicyArn"])


def _existence(server: MotoServer) -> dict[str, Callable[[str], bool]]:
    """Per stateful resource type: whether a resource of that physical id still exists."""
    s3, kms, logs, ecr = (server.client(s) for s in ("s3", "kms", "logs", "ecr"))

    def bucket(name: str) -> bool:
        return name in {b["Name"] for b in s3.list_buckets()["Buckets"]}

    def key(key_id: str) -> bool:
        return bool(kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled")

    def log_group(name: str) -> bool:
        return name in {g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]}

    def repository(name: str) -> bool:
        return name in {r["repositoryName"] for r in ecr.describe_repositories()["repositories"]}

    return {
        "AWS::S3::Bucket": bucket,
        "AWS::KMS::Key": key,
        "AWS::Logs::LogGroup": log_group,
        "AWS::ECR::Repository": repository,
    }
