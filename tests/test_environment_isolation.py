"""Environments cannot reach each other: no Allow statement of one environment matches another's resources.

Every stage of the shipped configuration (dev, staging and prod, one account) is synthesized, and every
IAM statement of every role (execution role, pipeline, drift monitor, notebook, deployment access, the
CDK helper functions) is rendered with the account, region and partition filled in and other resources
spelled `<env:stack:logical id.attribute>`. Each Allow statement of environment A is then evaluated, with
IAM's wildcard matching, against a list of environment B's concrete names: its endpoint, its jobs and
models by name, its log groups and log streams, its notebook, its stacks, and every resource of its
templates (buckets and their objects, key, topic, roles, state machines, repository, alarms).

What IAM cannot tell apart in one account is listed below, each with why (docs/security.md).
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from config import AppConfig
from sagemaker_constructs.execution_role import SAGEMAKER_METRIC_NAMESPACES
from stacks.deployment_access_stack import add_deployment_access
from tests.deploy_readiness.schemas import resource_types
from tests.helpers import TEST_ACCOUNT, Synthesized, cdk_context

PARTITION = "aws"
# An Allow on "*" names no environment's resource when IAM cannot scope its action: the Service Authorization
# Reference (cfn-lint's copy) lists no resource type for it. PutMetricData is scoped by its namespace condition
# instead, checked in test_what_a_shared_account_cannot_scope.
SCOPED_BY_CONDITION = {"cloudwatch:PutMetricData"}
# Shared by every environment of an account and region: SageMaker writes every job's streams into one group
# per kind. The role may create the group and list its streams; it writes only its own streams (checked).
SHARED_LOG_GROUPS = ("/aws/sagemaker/TrainingJobs", "/aws/sagemaker/TransformJobs", "/aws/sagemaker/ProcessingJobs")
_SERVICE_OF_TYPE = {
    "AWS::S3::Bucket": "s3",
    "AWS::KMS::Key": "kms",
    "AWS::SNS::Topic": "sns",
    "AWS::IAM::Role": "iam",
    "AWS::StepFunctions::StateMachine": "states",
    "AWS::ECR::Repository": "ecr",
    "AWS::Logs::LogGroup": "logs",
    "AWS::CloudWatch::Alarm": "cloudwatch",
    "AWS::Lambda::Function": "lambda",
    "AWS::Events::Rule": "events",
}


# Alike in shape only to review/model.py's Review (duplicates pairs them): one statement as this test reads it.
@dataclass(frozen=True)
class Statement:
    environment: str
    where: str
    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    condition: dict[str, Any]


class Renderer:
    """Template values as strings: pseudo parameters filled in, other references named by environment."""

    def __init__(self, synthesized: Synthesized, extra: dict[str, dict[str, dict[str, Any]]]) -> None:
        self.templates = {env: dict(stacks) for env, stacks in synthesized.templates.items()}
        for env, stacks in extra.items():
            self.templates.setdefault(env, {}).update(stacks)
        self.regions = {env: synthesized.config.environment(env).region for env in synthesized.templates}
        self.stack_names = {
            stack.stack_name: (env, stack_id)
            for env, stacks in synthesized.stacks.items()
            for stack_id, stack in stacks.items()
        }
        self.exports: dict[str, tuple[str, str, Any]] = {}
        for env, stacks in self.templates.items():
            for stack, template in stacks.items():
                for output in template.get("Outputs", {}).values():
                    if "Export" in output:
                        self.exports[json.dumps(output["Export"]["Name"])] = (env, stack, output["Value"])

    def render(self, value: Any, env: str, stack: str) -> str:  # noqa: PLR0911 - one return per intrinsic
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)):
            return str(value)
        (function, argument), *_ = value.items()
        if function == "Ref":
            pseudo = {
                "AWS::AccountId": TEST_ACCOUNT,
                "AWS::Region": self.regions.get(env, "us-east-1"),
                "AWS::Partition": PARTITION,
                "AWS::URLSuffix": "amazonaws.com",
            }
            return pseudo.get(argument, f"<{env}:{stack}:{argument}>")
        if function == "Fn::GetAtt":
            return f"<{env}:{stack}:{argument[0]}.{argument[1]}>"
        if function == "Fn::Join":
            return str(argument[0]).join(self.render(part, env, stack) for part in argument[1])
        if function == "Fn::ImportValue":
            producer_env, producer_stack, output = self.exports[json.dumps(argument)]
            return self.render(output, producer_env, producer_stack)
        if function == "Fn::GetStackOutput":  # a cross-stack reference between stacks of one stage
            producer_env, producer_stack = self.stack_names[argument["StackName"]]
            output = self.templates[producer_env][producer_stack]["Outputs"][argument["OutputName"]]["Value"]
            return self.render(output, producer_env, producer_stack)
        if function == "Fn::Select":
            items = argument[1]
            parts = self.render(items, env, stack).split("\x00") if isinstance(items, dict) else items
            return self.render(parts[int(argument[0])], env, stack)
        if function == "Fn::Split":
            return "\x00".join(self.render(argument[1], env, stack).split(argument[0]))
        if function == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            return re.sub(
                r"\$\{([^}]+)\}",
                lambda m: (
                    self.render(variables[m[1]], env, stack)
                    if m[1] in variables
                    else self.render(
                        {"Ref": m[1]} if "." not in m[1] else {"Fn::GetAtt": m[1].split(".", 1)}, env, stack
                    )
                ),
                text,
            )
        return json.dumps(value, sort_keys=True)


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(renderer: Renderer) -> Iterator[Statement]:
    """Every Allow statement of every IAM policy of every environment's templates."""
    for env, stacks in renderer.templates.items():
        for stack, template in stacks.items():
            for logical_id, resource in template.get("Resources", {}).items():
                documents: list[tuple[str, dict[str, Any]]] = []
                properties = resource.get("Properties", {})
                if resource["Type"] in {"AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"}:
                    documents.append((logical_id, properties["PolicyDocument"]))
                if resource["Type"] == "AWS::IAM::Role":
                    documents += [
                        (f"{logical_id}/{p['PolicyName']}", p["PolicyDocument"]) for p in properties.get("Policies", [])
                    ]
                for where, document in documents:
                    for index, statement in enumerate(document["Statement"]):
                        if statement["Effect"] != "Allow":
                            continue
                        yield Statement(
                            environment=env,
                            where=f"{stack}/{where}",
                            sid=statement.get("Sid", str(index)),
                            actions=tuple(_listed(statement["Action"])),
                            resources=tuple(renderer.render(r, env, stack) for r in _listed(statement["Resource"])),
                            condition=statement.get("Condition", {}),
                        )


def concrete_resources(renderer: Renderer, config: AppConfig, env: str) -> list[tuple[str, str]]:
    """(service, ARN or name) of environment `env`'s resources, as another environment's policy would name them."""
    app = config.app_name
    prefix = f"{app}-{env}"
    region = renderer.regions[env]
    arn = f"arn:{PARTITION}:{{service}}:{region}:{TEST_ACCOUNT}:{{resource}}"
    logs = arn.format(service="logs", resource="log-group:")
    named = [
        ("sagemaker", arn.format(service="sagemaker", resource=f"endpoint/{prefix}")),
        ("sagemaker", arn.format(service="sagemaker", resource=f"endpoint-config/{prefix}-config-1a2b3c")),
        ("sagemaker", arn.format(service="sagemaker", resource=f"training-job/{prefix}-0f1e2d3c-run")),
        ("sagemaker", arn.format(service="sagemaker", resource=f"model/{prefix}-0f1e2d3c-run")),
        ("sagemaker", arn.format(service="sagemaker", resource=f"transform-job/{prefix}-0f1e2d3c-run")),
        ("sagemaker", arn.format(service="sagemaker", resource=f"processing-job/{prefix}-drift-0123abcd")),
        ("sagemaker", arn.format(service="sagemaker", resource=f"notebook-instance/{prefix}-notebook")),
        ("sagemaker", arn.format(service="sagemaker", resource=f"model-package-group/{prefix}")),
        ("sagemaker", arn.format(service="sagemaker", resource=f"model-package/{prefix}/3")),
        ("logs", f"{logs}/aws/sagemaker/Endpoints/{prefix}"),
        ("logs", f"{logs}/aws/sagemaker/Endpoints/{prefix}:log-stream:AllTraffic/i-0123456789abcdef0"),
        ("logs", f"{logs}/aws/sagemaker/TrainingJobs:log-stream:{prefix}-0f1e2d3c-run/algo-1-1700000000"),
        ("logs", f"{logs}/aws/sagemaker/TransformJobs:log-stream:{prefix}-0f1e2d3c-run/i-0123-1700000000"),
        ("logs", f"{logs}/aws/sagemaker/ProcessingJobs:log-stream:{prefix}-drift-0123abcd/algo-1-1700000000"),
        ("logs", f"{logs}/aws/sagemaker/NotebookInstances:log-stream:{prefix}-notebook/jupyter.log"),
        ("logs", f"{logs}/aws/vendedlogs/states/{prefix}-training-pipeline"),
        ("logs", f"{logs}/aws/vendedlogs/states/{prefix}-drift-monitor"),
    ]
    stage = config.environment(env).name.stage_id
    named += [
        ("cloudformation", arn.format(service="cloudformation", resource=f"stack/{stage}-{stack}/1b2c3d4e"))
        for stack in renderer.templates[env]
    ]
    for stack, template in renderer.templates[env].items():
        for logical_id, resource in template["Resources"].items():
            service = _SERVICE_OF_TYPE.get(resource["Type"])
            if service is None and resource["Type"].startswith("AWS::SageMaker::"):
                service = "sagemaker"
            if service is None:
                continue
            for token in (f"<{env}:{stack}:{logical_id}>", f"<{env}:{stack}:{logical_id}.Arn>"):
                named.append((service, token))
                if service == "s3":
                    named += [(service, f"{token}/data/train/part-0.csv"), (service, f"{token}/notebook/x.ipynb")]
    return named


def _iam_match(pattern: str, value: str) -> bool:
    """IAM's resource matching: `*` any run of characters (':' and '/' included), `?` one character."""
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


@pytest.fixture(scope="module")
def renderer(synthesized: Synthesized, tmp_path_factory: pytest.TempPathFactory) -> Renderer:
    """GIVEN every stage of the shipped configuration, and the deployment access roles of its account."""
    app = cdk.App(context=cdk_context(), outdir=str(tmp_path_factory.mktemp("access")))
    access = add_deployment_access(app, synthesized.config)
    assembly = app.synth()
    extra: dict[str, dict[str, dict[str, Any]]] = {}
    for stack in access:
        template = assembly.get_stack_artifact(stack.artifact_id).template
        for env, role in stack.roles.items():
            # One stack holds every environment's role: give each environment the resources of its own role.
            own = stack.get_logical_id(role.policy.node.default_child)  # type: ignore[arg-type]
            resources = {
                logical_id: resource
                for logical_id, resource in template["Resources"].items()
                if logical_id == own or resource["Type"] != "AWS::IAM::ManagedPolicy"
            }
            extra.setdefault(env, {})[f"{stack.node.id}"] = {**template, "Resources": resources}
    return Renderer(synthesized, extra)


def test_every_environment_has_statements_to_check(renderer: Renderer) -> None:
    """GIVEN the synthesized stages WHEN their statements are listed THEN each environment has the roles
    this test is about (a test that checks nothing cannot fail)."""
    where = {(s.environment, s.sid) for s in statements(renderer)}
    for env in ("dev", "staging", "prod"):
        assert {"WriteLogs", "RunTrainingJobs", "SmokeTestEndpoint"} <= {sid for e, sid in where if e == env}, env


@pytest.mark.parametrize("other", ["dev", "staging", "prod"])
def test_no_statement_of_one_environment_matches_anothers_resources(
    synthesized: Synthesized, renderer: Renderer, other: str
) -> None:
    """GIVEN environment `other`'s concrete resources
    WHEN every Allow statement of every other environment is evaluated against them with IAM wildcards
    THEN none matches: the only statements on '*' are actions without resource-level permissions, and
    the only shared names are the account's job log groups (create and list, never write another's
    streams) and the CDK bootstrap roles (see test_what_a_shared_account_cannot_scope)."""
    targets = concrete_resources(renderer, synthesized.config, other)
    reached = []
    for statement in statements(renderer):
        if statement.environment == other or statement.sid == "AssumeCdkBootstrapRoles":
            continue
        if "*" in statement.resources:
            scopable = [a for a in statement.actions if a not in SCOPED_BY_CONDITION and resource_types(a) != ()]
            assert scopable == [], statement
            continue
        services = {action.split(":", 1)[0] for action in statement.actions}
        reached += [
            (statement.environment, statement.where, statement.sid, pattern, target)
            for service, target in targets
            if service in services
            for pattern in statement.resources
            if _iam_match(pattern, target)
        ]
    assert reached == []


def test_the_worst_wildcards_would_be_caught(synthesized: Synthesized, renderer: Renderer) -> None:
    """GIVEN the old execution role's log and SageMaker wildcards WHEN matched against prod's resources
    THEN they reach prod's endpoint log and jobs: the matching above is able to fail."""
    targets = [t for _, t in concrete_resources(renderer, synthesized.config, "prod")]
    logs = f"arn:aws:logs:us-east-1:{TEST_ACCOUNT}:log-group:/aws/sagemaker/*"
    assert any(_iam_match(f"{logs}:log-stream:*", t) for t in targets)
    assert any(_iam_match(logs, t) for t in targets)
    jobs = f"arn:aws:sagemaker:us-east-1:{TEST_ACCOUNT}:training-job/sagemaker-gbdt-*"
    assert any(_iam_match(jobs, t) for t in targets)


def test_what_a_shared_account_cannot_scope(renderer: Renderer) -> None:
    """GIVEN every environment's statements
    WHEN the unscoped ones are listed
    THEN they are exactly what docs/security.md says: PutMetricData to SageMaker's own job namespaces
    (IAM cannot condition on a dimension), creating and listing the account's shared job log groups, and
    assuming the account's CDK bootstrap roles."""
    for statement in statements(renderer):
        if "cloudwatch:PutMetricData" in statement.actions:
            namespaces = statement.condition["StringLike"]["cloudwatch:namespace"]
            assert set(_listed(namespaces)) <= set(SAGEMAKER_METRIC_NAMESPACES), statement
        shared = [r for r in statement.resources if r.endswith(SHARED_LOG_GROUPS)]
        if shared:
            assert set(statement.actions) <= {"logs:CreateLogGroup", "logs:DescribeLogStreams"}, statement
        if statement.sid == "AssumeCdkBootstrapRoles":
            assert all(":role/cdk-" in r for r in statement.resources), statement
    documented = (Path(__file__).resolve().parent.parent / "docs" / "security.md").read_text()
    for phrase in ("embedded metric", "PutMetricData", "bootstrap roles", "/aws/sagemaker/TrainingJobs"):
        assert phrase in documented.lower() or phrase in documented, phrase


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_each_environment_still_reaches_its_own_logs_and_jobs(
    synthesized: Synthesized, renderer: Renderer, env: str
) -> None:
    """GIVEN an environment's own concrete resources
    WHEN its execution role's and pipeline's statements are evaluated against them
    THEN its endpoint's log group (as the Inference stack creates it), its jobs' log streams and its
    training jobs are reachable: the scoping does not lock the environment out of its own resources."""
    own = [target for _, target in concrete_resources(renderer, synthesized.config, env)]
    inference = synthesized.templates[env].get("Inference", {"Resources": {}})
    endpoint_groups = [
        r["Properties"]["LogGroupName"]
        for r in inference["Resources"].values()
        if r["Type"] == "AWS::Logs::LogGroup" and "/Endpoints/" in str(r["Properties"].get("LogGroupName"))
    ]
    assert len(endpoint_groups) == 1
    logs = f"arn:aws:logs:{renderer.regions[env]}:{TEST_ACCOUNT}:log-group:"
    job_streams = [t for t in own if ":log-stream:" in t and "Jobs:" in t]
    assert len(job_streams) == 3
    wanted = {("logs:PutLogEvents", stream) for stream in job_streams}
    wanted |= {
        ("logs:PutLogEvents", f"{logs}{group}:log-stream:AllTraffic/i-0123456789abcdef0") for group in endpoint_groups
    }
    prefix = f"{synthesized.config.app_name}-{env}"
    wanted.add(
        (
            "sagemaker:CreateTrainingJob",
            f"arn:aws:sagemaker:{renderer.regions[env]}:{TEST_ACCOUNT}:training-job/{prefix}-run",
        )
    )
    mine = [s for s in statements(renderer) if s.environment == env]
    for action, target in sorted(wanted):
        assert any(action in s.actions and any(_iam_match(p, target) for p in s.resources) for s in mine), (
            action,
            target,
        )
