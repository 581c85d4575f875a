"""What template tests share: synthesizing, finding resources by type or construct path, builders.

Any test imports from here; no test imports another test module (fixtures live in conftest.py).
"""

from __future__ import annotations

import atexit
import json
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Template
from constructs import IConstruct

from config import AppConfig, parse_config
from config.contract import APPROVED
from config.settings import DEFAULT_CONFIG_FILE
from local_sagemaker.server import MotoServer
from sagemaker_constructs import (
    AlgorithmImage,
    InstanceVariant,
    LogSettings,
    RealtimeEndpoint,
    SageMakerExecutionRole,
    SageMakerModel,
    TrainingJobOptions,
    TrainingPipeline,
    TransformJobOptions,
)
from stacks import build_app

ROOT = Path(__file__).resolve().parent.parent
# A fixed, obviously fake account, so that templates do not depend on whoever runs the tests.
TEST_ACCOUNT = "123456789012"
TOKEN = "TOKEN"  # noqa: S105 - a placeholder for CloudFormation references, not a secret


def cfn_lint_problems(outdir: Path) -> str:
    """What cfn-lint reports on every template a synthesis wrote to `outdir` (empty: nothing)."""
    templates = sorted(str(p) for p in outdir.glob("assembly-*/*.template.json"))
    assert len(templates) >= 3
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    # W3005 (a DependsOn that a GetAtt already implies) comes from CDK's own Lambda constructs,
    # which always list their role; it changes nothing in the deployment.
    command = [str(cfn_lint), "--format", "parseable", "--ignore-checks", "W3005", "--", *templates]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    # cfn-lint's exit code is a bit mask: 2 = errors, 4 = warnings, 8 = informational.
    return "" if result.returncode == 0 else result.stdout + result.stderr


def validation_findings(outdir: Path) -> set[tuple[str, str]]:
    """(rule, construct path) of every finding in the policy validation report a synthesis wrote to `outdir`."""
    report = json.loads((outdir / "validation-report.json").read_text())
    return {
        (violation["ruleName"], construct["constructPath"])
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
        for construct in violation["violatingConstructs"]
    }


# -- the model registry ----------------------------------------------------------------------------

# The object the first, bootstrap version names (what the shipped pin, `<group>/1`, serves until promoted).
BOOTSTRAP_ARTIFACT_KEY = "models/bootstrap/model.tar.gz"


def register_approved_version(server: MotoServer, platform_outputs: Mapping[str, str], status: str = APPROVED) -> str:
    """The next version of the environment's group (`status`: approved unless told), naming the bootstrap artifact.

    Before an environment's first Inference deploy, version 1 (the shipped pin) must exist, approved
    (docs/delivery.md); an emulated deploy of a later pin needs that version too.
    """
    answer = server.client("sagemaker").create_model_package(
        ModelPackageGroupName=platform_outputs["ModelPackageGroupName"],
        InferenceSpecification={
            "Containers": [
                {
                    "Image": platform_outputs["ImageUri"],
                    "ModelDataUrl": f"s3://{platform_outputs['ArtifactsBucketName']}/{BOOTSTRAP_ARTIFACT_KEY}",
                }
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        ModelApprovalStatus=status,
    )
    return str(answer["ModelPackageArn"])


# -- tables of cases and configuration edits ----------------------------------------------------------


def cases(*rows: tuple[Any, ...]) -> list[Any]:
    """The parameters of a table of cases, one row `(id, *values)` a case: the rows read as data."""
    return [pytest.param(*values, id=name) for name, *values in rows]


def serverless_endpoint(**serverless: int) -> dict[str, Any]:
    """Dev's `[endpoint]` table hosting on a serverless variant (`serverless` overrides its fields)."""
    return {
        "model_artifact_key": "models/bootstrap/model.tar.gz",
        "serverless": {"memory_size_mb": 2048, "max_concurrency": 5, **serverless},
    }


def set_at(document: dict[str, Any], path: str, value: Any) -> None:
    """Sets `path` (`environments.dev.endpoint.variants.0.weight`: a number indexes a list) of a parsed
    TOML document to `value`, creating the tables on the way that are not there."""
    *parents, last = path.split(".")
    node: Any = document
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    node[last] = value


# -- synthesis -------------------------------------------------------------------------------------


def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials that would sign a request, and no profile or endpoint of the machine's own."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def cdk_context() -> dict[str, Any]:
    """The feature flags of cdk.json, which the CDK CLI passes to app.py: tests synthesize alike."""
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    return context


@dataclass(frozen=True)
class Synthesized:
    """The app as `cdk synth` builds it: its templates and stacks by environment and stack id."""

    config: AppConfig
    outdir: Path
    templates: dict[str, dict[str, dict[str, Any]]]
    stacks: dict[str, dict[str, cdk.Stack]] = field(default_factory=dict)

    def template(self, environment: str, stack: str = "Platform") -> dict[str, Any]:
        return self.templates[environment][stack]

    def logical_id(self, environment: str, stack: str, path: str) -> str:
        """The logical id of the resource at construct `path` in one environment's stack."""
        return logical_id(self.stacks[environment][stack], path)


def synthesize(config: AppConfig, outdir: Path) -> Synthesized:
    """Build and synthesize the whole app (cdk-nag included) into `outdir`."""
    app, stages = build_app(config, context=cdk_context(), outdir=str(outdir))
    app.synth()
    templates: dict[str, dict[str, dict[str, Any]]] = {}
    stacks: dict[str, dict[str, cdk.Stack]] = {}
    for name, stage in stages.items():
        assembly = stage.synth()
        stacks[name] = {stack.node.id: stack for stack in stage.node.children if isinstance(stack, cdk.Stack)}
        templates[name] = {
            stack_id: assembly.get_stack_artifact(stack.artifact_id).template
            for stack_id, stack in stacks[name].items()
        }
    return Synthesized(config=config, outdir=outdir, templates=templates, stacks=stacks)


# A prod model pin other than the shipped configuration's: the tests of a promotion share its synthesis.
PROMOTED_PROD_PIN = "sagemaker-gbdt-prod/2"


def config_with_prod_pin(pin: str = PROMOTED_PROD_PIN) -> AppConfig:
    """The shipped configuration with prod's endpoint serving the package version `pin` (validated as loaded)."""
    raw: dict[str, Any] = tomllib.loads(DEFAULT_CONFIG_FILE.read_text())
    raw["environments"]["prod"]["endpoint"]["model_package"] = pin
    return parse_config(raw, default_account=TEST_ACCOUNT)


_SHARED: dict[str, Synthesized] = {}


def synthesize_once(config: AppConfig) -> Synthesized:
    """The whole app synthesized from `config` once per test run: the modules that need it share it.

    A whole-app synthesis runs three cdk-nag packs over every stage; callers must not change what it returns.
    """
    key = config.model_dump_json()
    if key not in _SHARED:
        _SHARED[key] = synthesize(config, Path(tempfile.mkdtemp(dir=_OUTDIR_ROOT)))
    return _SHARED[key]


# An app given no outdir synthesizes into a new temporary cdk.out* directory (assets copied, ~50 MB) that
# nothing removes: every test app writes below one directory of the test run instead, removed at exit.
_OUTDIR_ROOT = Path(tempfile.mkdtemp(prefix="cdk-tests-"))
atexit.register(shutil.rmtree, _OUTDIR_ROOT, ignore_errors=True)


# What `cdk synth --no-staging` sets: assets are fingerprinted where they are, not copied into the outdir. A
# construct or stack test's app has no use for copies, and each app with the image would otherwise write the
# image copy's 50 MB Lambda bundle (some 12 GB a run). Templates are the same: an asset's hash does not change.
# Whole-app syntheses (`synthesize` above) stage as `cdk synth` does: the emulator deploys their assets, some of which
# (a custom resource's bundled handler) exist only as their staged copies.
NO_STAGING = {"aws:cdk:disable-asset-staging": True}


def new_app(**options: Any) -> cdk.App:
    """An app with the project's feature flags that synthesizes below the test run's temporary directory."""
    return cdk.App(context=cdk_context() | NO_STAGING, outdir=tempfile.mkdtemp(dir=_OUTDIR_ROOT), **options)


def new_stack(account: str = TEST_ACCOUNT, region: str = "us-east-1") -> cdk.Stack:
    """An empty stack in an app with the project's feature flags, for testing one construct."""
    return cdk.Stack(new_app(), "Test", env=cdk.Environment(account=account, region=region))


# -- reading templates -----------------------------------------------------------------------------


def template_of(stack: cdk.Stack) -> dict[str, Any]:
    """`stack` synthesized (its validations run) as a CloudFormation template."""
    return dict(Template.from_stack(stack).to_json())


def of_type(template: Mapping[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """Every resource of `resource_type` in `template`, by logical id."""
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def one_of_type(template: Mapping[str, Any], resource_type: str) -> dict[str, Any]:
    """The one resource of `resource_type` in `template` (fails if there are none or several)."""
    resources = of_type(template, resource_type)
    assert len(resources) == 1, f"{len(resources)} resources of type {resource_type}: {sorted(resources)}"
    return next(iter(resources.values()))


def logical_id(stack: cdk.Stack, path: str) -> str:
    """The logical id of the resource at construct `path` below `stack` (e.g. "Monitoring/CpuHigh").

    A path that names an L2 construct resolves to its default child (`Resource`).
    """
    construct: IConstruct = stack
    for part in path.split("/"):
        construct = construct.node.find_child(part)
    element = construct if isinstance(construct, cdk.CfnElement) else construct.node.default_child
    assert isinstance(element, cdk.CfnElement), f"{path} has no CloudFormation resource"
    return stack.get_logical_id(element)


def resource_at(stack: cdk.Stack, path: str) -> dict[str, Any]:
    """The resource at construct `path` below `stack`, as synthesized."""
    resource: dict[str, Any] = template_of(stack)["Resources"][logical_id(stack, path)]
    return resource


def definition(template: Mapping[str, Any]) -> dict[str, Any]:
    """The state machine's definition as JSON, each CloudFormation reference replaced by TOKEN."""
    body = one_of_type(template, "AWS::StepFunctions::StateMachine")["Properties"]["DefinitionString"]
    parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
    states: dict[str, Any] = json.loads("".join(p if isinstance(p, str) else TOKEN for p in parts))
    return states


# -- builders for the constructs that make log groups ---------------------------------------------


def log_settings(
    key: kms.IKey, *, retention_days: int = 30, removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN
) -> LogSettings:
    """Log groups under `key`, kept 30 days and retained with the stack, unless told otherwise."""
    return LogSettings(key, retention_days, removal_policy)


# -- builders for the inference constructs ---------------------------------------------------------


@dataclass(frozen=True)
class Platform:
    """The platform pieces a model needs (the `platform` fixture builds them in the test stack)."""

    key: kms.Key
    logs: LogSettings
    artifacts: s3.Bucket
    image: AlgorithmImage
    role: SageMakerExecutionRole


def make_platform(stack: cdk.Stack, container_directory: Path) -> Platform:
    key = kms.Key(stack, "Key")
    logs = log_settings(key)
    artifacts = s3.Bucket(stack, "Artifacts")
    image = AlgorithmImage(
        stack,
        "Image",
        directory=container_directory,
        encryption_key=key,
        removal_policy=cdk.RemovalPolicy.RETAIN,
        max_image_count=5,
        logs=logs,
    )
    role = SageMakerExecutionRole(
        stack,
        "ExecutionRole",
        data_bucket=s3.Bucket(stack, "Data"),
        artifacts_bucket=artifacts,
        image=image,
        encryption_key=key,
        name_prefix="app-test",
        extra_metric_namespaces=["SageMakerGbdt"],
    )
    return Platform(key=key, logs=logs, artifacts=artifacts, image=image, role=role)


MODEL_DATA_URL = "s3://artifacts-bucket/models/v1/model.tar.gz"


def make_model(stack: cdk.Stack, platform: Platform, id_: str, **kwargs: Any) -> SageMakerModel:
    """A `SageMakerModel` of the platform's image and role serving `MODEL_DATA_URL` (`kwargs` override)."""
    arguments: dict[str, Any] = {
        "image_uri": platform.image.image_uri,
        "model_data_url": MODEL_DATA_URL,
        "execution_role": platform.role,
    } | kwargs
    return SageMakerModel(stack, id_, **arguments)


def make_endpoint(
    stack: cdk.Stack, platform: Platform, model: SageMakerModel, variants: Any = None, **kwargs: Any
) -> RealtimeEndpoint:
    """A `RealtimeEndpoint` named app-test on two ml.c5.large instances unless told otherwise (`kwargs` override)."""
    arguments: dict[str, Any] = {
        "endpoint_name": "app-test",
        "model": model,
        "variants": [InstanceVariant("ml.c5.large", 2)] if variants is None else variants,
        "encryption_key": platform.key,
    } | kwargs
    return RealtimeEndpoint(stack, "Endpoint", **arguments)


# -- builders for the training pipeline ------------------------------------------------------------

PIPELINE_METRICS = [{"Name": "validation:score", "Regex": "validation:score=([0-9.]+)"}]


def make_pipeline(stack: cdk.Stack, platform: Platform, **overrides: Any) -> TrainingPipeline:
    """A `TrainingPipeline` app-dev on `platform`, training and scoring on ml.m5.large, unless told otherwise."""
    arguments: dict[str, Any] = {
        "name_prefix": "app-dev",
        "image_uri": platform.image.image_uri,
        "execution_role": platform.role,
        "data_bucket": s3.Bucket(stack, "DataBucket"),
        "artifacts_bucket": platform.artifacts,
        "encryption_key": platform.key,
        "logs": platform.logs,
        "notification_topic": sns.Topic(stack, "Topic"),
        "metric_definitions": PIPELINE_METRICS,
        "training": TrainingJobOptions("ml.m5.large"),
        "transform": TransformJobOptions("ml.m5.large"),
    }
    return TrainingPipeline(stack, "Pipeline", **(arguments | overrides))


def render_arn(value: Any) -> str:
    """An ARN as CloudFormation resolves it in the test account of the aws partition (Fn::Join of literals and
    pseudo parameters)."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(render_arn(part) for part in parts)
    pseudo = {"AWS::AccountId": TEST_ACCOUNT, "AWS::Partition": "aws"}
    return pseudo[value["Ref"]]


def grants(statement: dict[str, Any]) -> set[tuple[str, str]]:
    """(action, resource ARN) of every pair a policy statement allows."""
    actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
    resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
    return {(action, render_arn(resource)) for action in actions for resource in resources}
