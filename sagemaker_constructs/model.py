"""A SageMaker Model: the algorithm image plus one trained model artifact."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from config.contract import CONTAINER, MAX_REALTIME_INVOCATION_SECONDS
from sagemaker_constructs.execution_role import SageMakerExecutionRole
from sagemaker_constructs.validation import raise_if_any

_ENV_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]{0,1023}")
# CloudWatch: a dimension value is 1-1024 characters.
MAX_DIMENSION_VALUE_LENGTH = 1024


@dataclass(frozen=True)
class VpcPlacement:
    """Subnets and security groups of an existing VPC for the model's containers."""

    subnet_ids: Sequence[str]
    security_group_ids: Sequence[str]


class SageMakerModel(Construct):
    """A `AWS::SageMaker::Model` for the algorithm image and a `model.tar.gz`, or for a model package version.

    The model has no physical name: a Model cannot be changed in place, so CloudFormation
    replaces it on every change, which a fixed name would block. It depends on the execution
    role (and so its policy): SageMaker checks the role's permissions when the model is created.

    :param image_uri: the image, by immutable tag or digest (with `model_data_url`).
    :param model_data_url: `s3://bucket/key/model.tar.gz`, unpacked into /opt/ml/model.
    :param model_package_arn: instead of the two: a version of a model package group, whose image and artifact
        the model serves (`ModelPackageName`). SageMaker creates a model only from an Approved version
        (botocore's CreateModelPackageInput.ModelApprovalStatus), so the deploy fails on any other.
    :param server_workers: SAGEMAKER_MODEL_SERVER_WORKERS. @default the container's (one per CPU).
    :param server_timeout: SAGEMAKER_MODEL_SERVER_TIMEOUT, at most the container's limit (an hour). A real-time
        endpoint (`RealtimeEndpoint`) refuses more than SageMaker's 60 s invocation limit; an asynchronous one
        allows its InvocationTimeoutSeconds. @default 60 s.
    :param environment: more environment variables for the container.
    :param vpc: run the containers in these subnets. @default SageMaker's network.
    :param network_isolation: no network access from the container at all. @default False.
    :param model_version: what the container reports as the `ModelVersion` dimension of its metrics
        (METRICS_MODEL_VERSION), so an alarm can read this model's fleet only. @default the SHA-256
        of the image URI and the model data URL as the template spells them (the image's asset hash,
        the bucket and key), or of the package version's ARN: it changes exactly when the model or the image
        does, never between syntheses.
    """

    # Keyword arguments alike in shape to EndpointMonitoring's (duplicates pairs them): each construct's own.
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        execution_role: SageMakerExecutionRole,
        image_uri: str | None = None,
        model_data_url: str | None = None,
        model_package_arn: str | None = None,
        server_workers: int | None = None,
        server_timeout: cdk.Duration = cdk.Duration.seconds(MAX_REALTIME_INVOCATION_SECONDS),
        environment: Mapping[str, str] | None = None,
        vpc: VpcPlacement | None = None,
        network_isolation: bool = False,
        model_version: str | None = None,
    ) -> None:
        super().__init__(scope, id_)
        errors = []
        timeout_seconds = server_timeout.to_seconds()
        most = CONTAINER.limits.max_server_timeout_seconds
        if not 1 <= timeout_seconds <= most:
            errors.append(f"server_timeout must be 1-{most} s (the container's limit), got {timeout_seconds:g} s")
        if server_workers is not None and server_workers < 1:
            errors.append(f"server_workers must be at least 1, got {server_workers}")
        if (model_package_arn is None) == (image_uri is None or model_data_url is None):
            errors.append("give image_uri and model_data_url, or model_package_arn (which names both), not both")
        if (
            model_data_url is not None
            and not cdk.Token.is_unresolved(model_data_url)
            and not re.fullmatch(r"s3://[^/]+/.+\.tar\.gz", model_data_url)
        ):
            errors.append(f"model_data_url must be s3://<bucket>/<key>.tar.gz, got {model_data_url!r}")
        if vpc is not None and (not vpc.subnet_ids or not vpc.security_group_ids):
            errors.append("vpc needs at least one subnet id and one security group id")
        if model_version is not None and not 0 < len(model_version.strip()) <= MAX_DIMENSION_VALUE_LENGTH:
            errors.append(
                f"model_version must be 1-{MAX_DIMENSION_VALUE_LENGTH} characters, not blank, got {model_version!r}"
            )
        served = [model_package_arn] if model_package_arn is not None else [image_uri, model_data_url]
        self.model_version = model_version or _version_of(cdk.Stack.of(self), served)
        variables = {
            CONTAINER.environment.server_timeout: f"{timeout_seconds:g}",
            CONTAINER.environment.metrics_model_version: self.model_version,
        }
        if server_workers is not None:
            variables[CONTAINER.environment.server_workers] = str(server_workers)
        for name, value in (environment or {}).items():
            if not _ENV_NAME.fullmatch(name):
                errors.append(f"environment variable name {name!r} is not valid")
            if name == CONTAINER.environment.metrics_model_version:
                errors.append(f"environment must not set {name}: pass model_version, which the alarms read too")
            variables[name] = value
        raise_if_any(self, errors)

        self.server_timeout_seconds = timeout_seconds
        self.network_isolation = network_isolation
        self.in_vpc = vpc is not None
        self.model = sagemaker.CfnModel(
            self,
            "Model",
            execution_role_arn=execution_role.role.role_arn,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                image=image_uri,
                model_data_url=model_data_url,
                model_package_name=model_package_arn,
                environment=dict(sorted(variables.items())),
            ),
            enable_network_isolation=network_isolation,
            vpc_config=sagemaker.CfnModel.VpcConfigProperty(
                subnets=list(vpc.subnet_ids), security_group_ids=list(vpc.security_group_ids)
            )
            if vpc
            else None,
        )
        # Never create the model before the role's permissions exist.
        self.model.node.add_dependency(execution_role)

    @property
    def model_name(self) -> str:
        """The name CloudFormation generated for the model."""
        return self.model.attr_model_name


def _version_of(stack: cdk.Stack, served: Sequence[str | None]) -> str:
    """A digest of what the model serves, from the template's own spelling of the image and the artifact."""
    spelled = json.dumps([stack.resolve(value) for value in served], sort_keys=True)
    return hashlib.sha256(spelled.encode()).hexdigest()
