"""TrainingPipeline with a model registry: every model that passes the quality gate becomes a package version."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import botocore.session
import pytest
from aws_cdk.assertions import Template

from config.contract import DEFAULT_COMMIT
from sagemaker_constructs import ModelRegistry, QualityGate, TrainingJobOptions, TransformJobOptions
from sagemaker_constructs.training_pipeline.policy import final_metrics_policy
from tests.helpers import Platform, make_pipeline
from tests.sagemaker_constructs.state_machine import (
    KEY_ARN,
    Execution,
    ServiceAnswers,
    TaskFailedError,
    definition_of,
    run,
)

HYPERPARAMETERS = {"shape": "round", "width": "200"}
SAGEMAKER = botocore.session.get_session().get_service_model("sagemaker")
EXECUTION = "3f0c5b9e-7d2a-4c1e-9b8f-0a1b2c3d4e5f"
JOB = f"app-dev-{EXECUTION}"
ARTIFACT = f"s3://artifacts/pipeline/models/{JOB}/output/model.tar.gz"
VERSION_ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/app-dev/1"


def _pipeline(stack: cdk.Stack, platform: Platform, **overrides: Any) -> dict[str, Any]:
    registry = ModelRegistry(stack, "Registry", group_name="app-dev", description="dev")
    policy = final_metrics_policy(stack, "MetricsPolicy", artifacts_bucket=platform.artifacts, name_prefix="app-dev")
    arguments: dict[str, Any] = {
        "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/algorithm:abc",
        "training": TrainingJobOptions("ml.m5.large", hyperparameters=HYPERPARAMETERS),
        "quality_gate": QualityGate("validation:score", 0.75),
        "tags": {"Environment": "dev"},
        "model_registry": registry,
        "metrics_policy": policy,
        **overrides,
    }
    make_pipeline(stack, platform, **arguments)
    return definition_of(Template.from_stack(stack).to_json())


@dataclass
class Services(ServiceAnswers):
    """Mocked SageMaker and SNS answers of a run that trains, registers, creates a model and scores."""

    score: float = 0.83
    registration_fails: bool = False

    def createTrainingJob(self, parameters: dict[str, Any]) -> dict[str, Any]:  # noqa: N802 - the API's name
        return {
            "TrainingJobName": parameters["TrainingJobName"],
            "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{JOB}",
            "HyperParameters": parameters["HyperParameters"],
            "ModelArtifacts": {"S3ModelArtifacts": ARTIFACT},
            "FinalMetricDataList": [{"MetricName": "validation:score", "Value": self.score}],
        }

    def putObject(self, _parameters: dict[str, Any]) -> dict[str, Any]:  # noqa: N802 - the API's name
        return {"ETag": '"e"'}

    def createModelPackage(self, _parameters: dict[str, Any]) -> dict[str, Any]:  # noqa: N802 - the API's name
        if self.registration_fails:
            raise TaskFailedError("SageMaker.ValidationException", "Model Package Group does not exist.")
        return {"ModelPackageArn": VERSION_ARN}

    def createModel(self, _parameters: dict[str, Any]) -> dict[str, Any]:  # noqa: N802 - the API's name
        return {"ModelArn": "arn:aws:sagemaker:us-east-1:123456789012:model/m"}

    def createTransformJob(self, parameters: dict[str, Any]) -> dict[str, Any]:  # noqa: N802 - the API's name
        return {"TransformOutput": parameters["TransformOutput"]}


def _run(definition: Mapping[str, Any], services: Services) -> Execution:
    return run(
        definition, {"data_prefix": "datasets/churn", "commit": "abc123"}, execution_name=EXECUTION, task=services
    )


def test_a_model_that_passes_the_gate_is_registered_with_its_lineage_before_the_model_is_created(
    stack: cdk.Stack, platform: Platform
) -> None:
    # GIVEN a pipeline with a quality gate and a registry
    definition = _pipeline(stack, platform)
    services = Services()
    # WHEN a run's model passes the gate
    execution = _run(definition, services)
    # THEN it is registered before CreateModel, through the SDK integration
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    gate = execution.states.index("MeetsQualityGate")
    assert execution.states[gate + 1 : gate + 5] == ["Lineage", "WriteMetrics", "Register", "CreateModel"]
    assert definition["States"]["Register"]["Resource"] == "arn:aws:states:::aws-sdk:sagemaker:createModelPackage"
    (request,) = services.requests["createModelPackage"]
    # AND the version serves the image and the artifact, awaits approval and is encrypted with the key
    assert request["ModelPackageGroupName"] == "app-dev"
    assert request["InferenceSpecification"]["Containers"] == [
        {"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/algorithm:abc", "ModelDataUrl": ARTIFACT}
    ]
    assert request["ModelApprovalStatus"] == "PendingManualApproval"
    assert request["SecurityConfig"] == {"KmsKeyId": KEY_ARN}
    assert request["MetadataProperties"] == {
        "GeneratedBy": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{JOB}",
        "CommitId": "abc123",
    }
    # AND it records the hyperparameters, the training job, the data and the commit
    assert request["CustomerMetadataProperties"] == {
        **HYPERPARAMETERS,
        "pipeline/training_job": JOB,
        "pipeline/data": "s3://reference/datasets/churn/",  # definition_of spells the bucket's Ref "reference"
        "pipeline/commit": "abc123",
        "pipeline/execution": EXECUTION,
    }
    # AND the final metrics, as its model quality statistics: the job's list, written next to its model first
    (document,) = services.requests["putObject"]
    key = f"pipeline/models/{JOB}/output/metrics.json"
    assert document == {
        "Bucket": "reference",
        "Key": key,
        "Body": '[{"MetricName":"validation:score","Value":0.83}]',
        "ContentType": "application/json",
        "ServerSideEncryption": "aws:kms",
        "SSEKMSKeyId": KEY_ARN,
    }
    assert request["ModelMetrics"] == {
        "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": f"s3://reference/{key}"}}
    }
    assert {"Key": "Environment", "Value": "dev"} in request["Tags"]
    # AND the report names the version
    (message,) = services.published()
    assert message["model_package"] == VERSION_ARN


def test_a_hyperparameter_cannot_overwrite_the_lineage(stack: cdk.Stack, platform: Platform) -> None:
    """GIVEN an execution's input naming a hyperparameter like a lineage key (names with '/' are refused by the
    configuration, not by an execution's input) WHEN the version is registered THEN the lineage's value wins."""
    definition = _pipeline(stack, platform)
    services = Services()
    run(
        definition,
        {"data_prefix": "d", "hyperparameters": {"pipeline/commit": "forged"}},
        execution_name=EXECUTION,
        task=services,
    )
    (request,) = services.requests["createModelPackage"]
    assert request["CustomerMetadataProperties"]["pipeline/commit"] == DEFAULT_COMMIT


def test_dev_may_register_versions_approved(stack: cdk.Stack, platform: Platform) -> None:
    """GIVEN auto_approve WHEN a model passes the gate THEN its version is registered Approved."""
    services = Services()
    _run(_pipeline(stack, platform, auto_approve=True), services)
    assert services.requests["createModelPackage"][0]["ModelApprovalStatus"] == "Approved"


def test_a_model_the_gate_rejects_is_not_registered(stack: cdk.Stack, platform: Platform) -> None:
    """GIVEN a model below the gate's threshold WHEN the run evaluates it THEN nothing is registered."""
    services = Services(score=0.6)
    execution = _run(_pipeline(stack, platform), services)
    assert (execution.status, execution.error) == ("FAILED", "ModelRejected")
    assert "createModelPackage" not in services.requests


def test_a_failed_registration_is_notified_and_fails_the_run_before_any_model(
    stack: cdk.Stack, platform: Platform
) -> None:
    """GIVEN CreateModelPackage fails WHEN the run registers THEN it notifies, fails with SageMaker's error,
    and creates no model."""
    services = Services(registration_fails=True)
    execution = _run(_pipeline(stack, platform), services)
    assert (execution.status, execution.error) == ("FAILED", "SageMaker.ValidationException")
    assert execution.states[-2:] == ["NotifyRegistrationFailed", "RegistrationFailed"]
    assert "createModel" not in services.requests


def test_without_a_gate_every_trained_model_is_registered_with_its_metrics(
    stack: cdk.Stack, platform: Platform
) -> None:
    """GIVEN no quality gate WHEN a run trains THEN the version is registered with the job's final metrics."""
    services = Services()
    execution = _run(_pipeline(stack, platform, quality_gate=None), services)
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert json.loads(services.requests["putObject"][0]["Body"]) == [{"MetricName": "validation:score", "Value": 0.83}]
    assert "ModelMetrics" in services.requests["createModelPackage"][0]


def test_a_failed_metrics_document_is_a_failed_registration(stack: cdk.Stack, platform: Platform) -> None:
    """GIVEN PutObject fails (e.g. the key denies the role) WHEN the run writes the metrics THEN it notifies,
    fails with S3's error, and registers nothing."""

    @dataclass
    class Denied(Services):
        def putObject(self, _parameters: dict[str, Any]) -> dict[str, Any]:  # noqa: N802 - the API's name
            raise TaskFailedError("S3.S3Exception", "Access Denied")

    services = Denied()
    execution = _run(_pipeline(stack, platform), services)
    assert (execution.status, execution.error) == ("FAILED", "S3.S3Exception")
    assert execution.states[-2:] == ["NotifyRegistrationFailed", "RegistrationFailed"]
    assert "createModelPackage" not in services.requests


@pytest.mark.parametrize(("auto_approve", "status"), [(False, "PendingManualApproval"), (True, "Approved")])
def test_the_role_may_register_versions_of_its_group_only(
    stack: cdk.Stack, platform: Platform, auto_approve: bool, status: str
) -> None:
    """GIVEN a pipeline with a registry WHEN synthesized THEN its policy lets it create versions of the group with
    the status Register gives them only, and tag them, nothing more of the registry, and put the metrics' documents
    of its own jobs, no other object."""
    _pipeline(stack, platform, auto_approve=auto_approve)
    policies = Template.from_stack(stack).find_resources("AWS::IAM::ManagedPolicy")
    statements = [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]
    registry = [s for s in statements if "ModelPackage" in json.dumps(s["Action"])]
    assert [(s["Sid"], s["Action"], s.get("Condition")) for s in registry] == [
        (
            "RegisterModelVersions",
            "sagemaker:CreateModelPackage",
            {"StringEquals": {"sagemaker:ModelApprovalStatus": status}},
        )
    ]
    assert [s["Resource"] for s in statements if s.get("Sid") == "TagModelVersions"] == [registry[0]["Resource"]]
    # AND in S3 only the metrics' documents, through the policy its role attaches
    ((role_ref,),) = [p["Properties"]["Roles"] for p in policies.values() if "RegisterModelVersions" in json.dumps(p)]
    role = Template.from_stack(stack).find_resources("AWS::IAM::Role")[role_ref["Ref"]]
    attached = [policies[arn["Ref"]] for arn in role["Properties"].get("ManagedPolicyArns", [])]
    pipeline = [p for p in policies.values() if role_ref in p["Properties"].get("Roles", [])]
    granted = [s for p in attached + pipeline for s in p["Properties"]["PolicyDocument"]["Statement"]]
    (s3_statement,) = [s for s in granted if "s3:" in json.dumps(s["Action"])]
    assert s3_statement["Action"] == "s3:PutObject"
    assert s3_statement["Resource"]["Fn::Join"][1][-1] == "/*/models/app-dev-*/output/metrics.json"


def test_auto_approve_without_a_registry_is_refused(stack: cdk.Stack, platform: Platform) -> None:
    """GIVEN auto_approve and no registry WHEN the pipeline is built THEN the error names both."""
    with pytest.raises(ValueError, match="auto_approve needs a model_registry"):
        _pipeline(stack, platform, model_registry=None, metrics_policy=None, auto_approve=True)


SERVED_ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/app-dev/4"


def test_where_a_version_is_served_the_scores_are_its_not_the_candidate_s(stack: cdk.Stack, platform: Platform) -> None:
    # GIVEN a pipeline whose versions await approval and whose environment serves approved version 4
    transform = TransformJobOptions("ml.m5.large", model_package_arn=SERVED_ARN)
    services = Services()
    # WHEN a run registers its model as a candidate and scores
    execution = _run(_pipeline(stack, platform, transform=transform), services)
    # THEN the scoring model is created from version 4 (its image and artifact), not from the run's artifact
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    (model,) = services.requests["createModel"]
    assert model["PrimaryContainer"] == {"ModelPackageName": SERVED_ARN}
    (message,) = services.published()
    assert (message["scored_with"], message["model_package"]) == (SERVED_ARN, VERSION_ARN)


# Opens as the no-gate test does (duplicates pairs them: GIVEN a pipeline, WHEN it runs, THEN it succeeded), each
# with another pipeline; a helper hiding the run or its success would hide the WHEN and the first THEN.
def test_without_a_served_version_a_run_registers_its_candidate_and_scores_nothing(
    stack: cdk.Stack, platform: Platform
) -> None:
    # GIVEN a pipeline with nothing approved to score with (staging or prod before its first pin)
    services = Services()
    execution = _run(_pipeline(stack, platform, scoring=False), services)
    # WHEN a run's model passes the gate THEN it is registered, and the run reports without model or scores
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert execution.states[execution.states.index("Register") + 1] == "Report"
    assert "createModel" not in services.requests and "createTransformJob" not in services.requests
    (message,) = services.published()
    assert message["model_package"] == VERSION_ARN and "scores" not in message


def test_the_metrics_policy_is_made_in_the_bucket_s_own_stack(stack: cdk.Stack, platform: Platform) -> None:
    """GIVEN the artifacts bucket of one stack WHEN the metrics' policy is made in another THEN it is refused: only
    there is the bucket's ARN spelled as the acknowledgment of its wildcard says."""
    other = cdk.Stack(stack.node.root, "Other")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="belongs in the stack that creates the artifacts bucket"):
        final_metrics_policy(other, "MetricsPolicy", artifacts_bucket=platform.artifacts, name_prefix="app-dev")
