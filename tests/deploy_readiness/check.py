"""The deploy-readiness check: what AWS will require of each template, held against what is allowed.

`check(deployment, execution_policies, boundary)` returns every unmet requirement as a `Finding`
naming the documentation it comes from. Requirements, in order:
1. each resource's registry-schema handler permissions (create, update, delete), for the principal
   CloudFormation acts with, minus the reviewed `EXCUSED` lines; custom resource types (no schema)
   must be in `CUSTOM_RESOURCE_CALLS`, or they are a finding;
2. what AWS checks on that principal beyond the handler lists (stack outputs, autoscaling targets,
   KMS grants SageMaker makes as the caller, invoking custom resources' functions);
3. each role's run-time needs (Step Functions' SageMaker integrations, VPC placement, the custom
   resources' handler calls), in its own policies and inside the permissions boundary;
4. resource-policy grants to bounded roles, which the boundary must allow too;
5. fixed physical names that SageMaker creates itself or that `Retain` leaves behind.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from config.contract import ASYNC_INPUT_PREFIX
from tests.deploy_readiness.model import NAME_PROPERTIES, Deployment, Stack, references
from tests.deploy_readiness.policy import ANY_RESOURCE, Decision, Request, as_list, evaluate, statements_of
from tests.deploy_readiness.requirements import (
    ALARM_TOPIC_KEY_ACTIONS,
    ASYNC_INFERENCE_DOC,
    ASYNC_KEY_ACTIONS,
    ASYNC_OBJECT_READ,
    ASYNC_OBJECT_WRITE,
    ASYNC_TOPIC_ACTIONS,
    AUTOSCALING_DOC,
    BOUNDARY_DOC,
    CUSTOM_RESOURCE_ACTION,
    CUSTOM_RESOURCE_CALLS,
    CUSTOM_RESOURCE_DOC,
    EXCUSED,
    GET_STACK_OUTPUT_DOC,
    IMPORT_DOC,
    IMPORTABLE_TYPES,
    JOB_FEATURE_NEEDS,
    LOGS_KEY_ACTIONS,
    LOGS_KMS_DOC,
    PASSED_TO_SERVICE,
    RETAIN_DOC,
    SAGEMAKER_API_PERMISSIONS_DOC,
    SAGEMAKER_LOG_GROUPS_DOC,
    SAGEMAKER_VPC_ACTIONS,
    SAGEMAKER_VPC_DOC,
    SCHEMA_DOC,
    SDK_ACTIONS_CHECKED,
    SDK_API_NEEDS,
    SDK_REQUEST_CONDITION_KEYS,
    SDK_REQUEST_NEEDS,
    SDK_SERVICES_CHECKED,
    SNS_KMS_DOC,
    STEP_FUNCTIONS_SAGEMAKER,
    STEP_FUNCTIONS_SAGEMAKER_DOC,
    STEP_FUNCTIONS_SDK_DOC,
    step_functions_sagemaker_needs,
)
from tests.deploy_readiness.schemas import HANDLERS, handler_permissions, iam_actions, read_permissions

Statements = Sequence[Mapping[str, Any]]
# AWS managed policies the app attaches, with the actions AWS publishes for them.
AWS_MANAGED = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "*",
        }
    ]
}
# Log groups SageMaker creates itself, once per account and region, on the first job of that kind.
ACCOUNT_WIDE_SAGEMAKER_LOG_GROUPS = re.compile(
    r"/aws/sagemaker/(TrainingJobs|TransformJobs|ProcessingJobs|NotebookInstances)"
)
ENDPOINT_LOG_GROUP = re.compile(r"/aws/sagemaker/Endpoints/(?P<endpoint>.+)")


@dataclass(frozen=True, order=True)
class Finding:
    """One unmet requirement: where, what, and the page AWS documents it on."""

    where: str
    what: str
    source: str
    # "permission": an API call AWS would refuse; "name": a physical name AWS would find taken.
    kind: str = "permission"

    def __str__(self) -> str:
        return f"{self.where}: {self.what}\n    source: {self.source}"


def is_iam_action(action: str) -> bool:
    return action.lower() in iam_actions()


def excused(resource_type: str, action: str, properties: Mapping[str, Any]) -> bool:
    return any(
        excuse.resource_type == resource_type
        and any(fnmatchcase(action, pattern) for pattern in excuse.actions)
        and not excuse.needed_when(properties)
        for excuse in EXCUSED
    )


def needed_handler_permissions(kind: str, properties: Mapping[str, Any], region: str) -> dict[str, str] | None:
    """`{action: handler}`: what CloudFormation calls with its execution role to deploy a `kind` resource with
    `properties` in `region` (the IAM actions its registry schema's handlers list, less the `EXCUSED` ones those
    properties never need), each with the first handler that lists it; None when `kind` has no schema."""
    handlers = handler_permissions(kind, region)
    if handlers is None:
        return None
    needed: dict[str, str] = {}
    for handler in HANDLERS:
        for action in handlers.get(handler, ()):
            if is_iam_action(action) and not excused(kind, action, properties):
                needed.setdefault(action, handler)
    return needed


class Checker:
    def __init__(self, deployment: Deployment, execution: Statements, boundary: Statements, boundary_name: str) -> None:
        self.deployment = deployment
        self.execution = execution
        self.boundary = boundary
        self.boundary_name = boundary_name
        self.findings: list[Finding] = []
        self.imports_existing = False
        self._roles = {
            arn: (stack, logical_id)
            for stack, logical_id, resource in deployment.resources()
            if resource["Type"] == "AWS::IAM::Role" and (arn := deployment.arn(stack, logical_id))
        }
        self._identities: dict[str, list[dict[str, Any]]] = {}
        # The app's own managed policies, for roles that name them in ManagedPolicyArns.
        self._managed_policies = {
            arn: (stack, logical_id)
            for stack, logical_id, resource in deployment.resources()
            if resource["Type"] == "AWS::IAM::ManagedPolicy" and (arn := deployment.arn(stack, logical_id))
        }

    # -- helpers -----------------------------------------------------------------------------------

    def _context(self, stack: Stack, **keys: Any) -> dict[str, Any]:
        return {"aws:PrincipalAccount": stack.account, **keys}

    def _require(self, statements: Statements, request: Request, where: str, source: str, whose: str) -> None:
        decision = evaluate(statements, request)
        if decision is not Decision.ALLOWED:
            self.findings.append(
                Finding(
                    where,
                    f"{request.action} on {request.resource or '(unresolved)'} is {decision.value} by {whose}",
                    source,
                )
            )

    def _roles_in(self, stack: Stack, node: Any) -> list[str]:
        """ARNs of the app's roles that `node` references."""
        roles = []
        for reference in references(node):
            arn = self.deployment.resolve(reference, stack)
            if arn and ":role/" in arn:
                roles.append(arn)
        return sorted(set(roles))

    def _role(self, arn: str) -> tuple[Stack, str] | None:
        return self._roles.get(arn)

    def _identity_statements(self, role_stack: Stack, role_id: str) -> list[dict[str, Any]]:
        """Every statement of the role's own policies, resources resolved where the template fixes them."""
        key = f"{role_stack.name}/{role_id}"
        if key not in self._identities:
            self._identities[key] = self._collect_identity_statements(role_stack, role_id)
        return self._identities[key]

    def _collect_identity_statements(self, role_stack: Stack, role_id: str) -> list[dict[str, Any]]:
        role_arn = self.deployment.arn(role_stack, role_id)
        found: list[dict[str, Any]] = []
        role = role_stack.resources[role_id]["Properties"]
        documents = [p["PolicyDocument"] for p in role.get("Policies", [])]
        for stack, _, resource in self.deployment.resources():
            if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
                properties = resource["Properties"]
                attached = [self.deployment.resolve(r, stack) for r in properties.get("Roles", [])]
                if role_arn and role_arn.rsplit("/", 1)[1] in attached:
                    documents.append(self._resolved(properties["PolicyDocument"], stack))
        for value in role.get("ManagedPolicyArns", []):
            arn = self.deployment.resolve(value, role_stack) or json.dumps(value)
            if arn in self._managed_policies:
                policy_stack, policy_id = self._managed_policies[arn]
                document = policy_stack.resources[policy_id]["Properties"]["PolicyDocument"]
                documents.append(self._resolved(document, policy_stack))
            elif arn in AWS_MANAGED:
                documents.append({"Statement": AWS_MANAGED[arn]})
            else:
                where = f"{role_stack.name}/{role_id} (AWS::IAM::Role)"
                self.findings.append(
                    Finding(where, f"attaches {arn}, whose actions the check does not know", SCHEMA_DOC)
                )
        for document in documents:
            found += statements_of(document)
        return found

    def _resolved(self, document: Mapping[str, Any], stack: Stack) -> dict[str, Any]:
        statements = []
        for statement in statements_of(document):
            copy = dict(statement)
            for key in ("Resource", "NotResource"):
                if key in copy:
                    copy[key] = [self.deployment.resolve(r, stack) for r in as_list(copy[key])]
            statements.append(copy)
        return {"Statement": statements}

    # -- 1. handler permissions --------------------------------------------------------------------

    def handler_permissions(self) -> None:
        for stack, logical_id, resource in self.deployment.resources():
            kind = resource["Type"]
            if kind == "AWS::CDK::Metadata":
                continue
            properties = resource.get("Properties", {})
            where = f"{stack.name}/{logical_id} ({kind})"
            if kind.startswith("Custom::"):
                self._custom_resource(stack, where, kind, properties)
                continue
            needed = needed_handler_permissions(kind, properties, stack.region)
            if needed is None:
                self.findings.append(
                    Finding(where, "no registry schema and no entry in CUSTOM_RESOURCE_CALLS", CUSTOM_RESOURCE_DOC)
                )
                continue
            for action, handler in needed.items():
                source = SCHEMA_DOC.format(type=kind, handler=handler)
                for request in self._handler_requests(stack, logical_id, resource, action):
                    self._require(self.execution, request, where, source, "the CloudFormation execution role")

    def _handler_requests(  # noqa: PLR0911 - one return per kind of target, in one place
        self, stack: Stack, logical_id: str, resource: Mapping[str, Any], action: str
    ) -> list[Request]:
        kind = resource["Type"]
        properties = resource.get("Properties", {})
        own = self.deployment.arn(stack, logical_id)
        context = self._context(stack)
        if action == "iam:PassRole":
            service = PASSED_TO_SERVICE.get(kind)
            roles = self._roles_in(stack, properties)
            if not roles or service is None:
                return [Request(action, None, context)]
            return [Request(action, role, {**context, "iam:PassedToService": service}) for role in roles]
        if action == "iam:CreateServiceLinkedRole":
            service = f"{properties.get('ServiceNamespace')}.application-autoscaling.amazonaws.com"
            return [
                Request(
                    action,
                    f"arn:aws:iam::{stack.account}:role/aws-service-role/{service}/*",
                    {**context, "iam:AWSServiceName": service},
                )
            ]
        if kind == "AWS::IAM::Role" and action.startswith("iam:"):
            context["iam:PermissionsBoundary"] = (
                self.deployment.resolve(properties.get("PermissionsBoundary"), stack) or ""
            )
            if action == "iam:AttachRolePolicy":
                return [
                    Request(action, own, {**context, "iam:PolicyARN": self.deployment.resolve(arn, stack) or ""})
                    for arn in properties.get("ManagedPolicyArns", [])
                ]
            return [Request(action, own, context)]
        if kind == "AWS::IAM::ManagedPolicy" and action in ("iam:AttachRolePolicy", "iam:DetachRolePolicy"):
            requests = []
            for role in properties.get("Roles", []):
                name = self.deployment.resolve(role, stack)
                arn = f"arn:aws:iam::{stack.account}:role/{name}" if name else None
                found = self._role(arn) if arn else None
                bound = found and self.deployment.resolve(
                    found[0].resources[found[1]]["Properties"].get("PermissionsBoundary"), found[0]
                )
                requests.append(
                    Request(
                        action, arn, {**context, "iam:PolicyARN": own or "", "iam:PermissionsBoundary": bound or ""}
                    )
                )
            return requests
        if kind == "AWS::S3::BucketPolicy":
            bucket = self.deployment.resolve(properties.get("Bucket"), stack)
            return [Request(action, f"arn:aws:s3:::{bucket}" if bucket else None, context)]
        if kind == "AWS::Lambda::Function" and action.startswith("s3:"):
            code = properties.get("Code", {})
            bucket = self.deployment.resolve(code.get("S3Bucket"), stack)
            key = self.deployment.resolve(code.get("S3Key"), stack)
            return [Request(action, f"arn:aws:s3:::{bucket}/{key}" if bucket and key else None, context)]
        return [Request(action, own, context)]

    # -- custom resources (no schema) --------------------------------------------------------------

    def _custom_resource(self, stack: Stack, where: str, kind: str, properties: Mapping[str, Any]) -> None:
        function = self.deployment.resolve(properties.get("ServiceToken"), stack)
        self._require(
            self.execution,
            Request(CUSTOM_RESOURCE_ACTION, function, self._context(stack)),
            where,
            CUSTOM_RESOURCE_DOC,
            "the CloudFormation execution role",
        )
        if kind not in CUSTOM_RESOURCE_CALLS:
            self.findings.append(
                Finding(where, "a custom resource type missing from CUSTOM_RESOURCE_CALLS", CUSTOM_RESOURCE_DOC)
            )
            return
        actions, source = CUSTOM_RESOURCE_CALLS[kind]
        lambda_id = next(
            (
                lid
                for lid, r in stack.resources.items()
                if r["Type"] == "AWS::Lambda::Function" and self.deployment.arn(stack, lid) == function
            ),
            None,
        )
        role_arn = (
            self.deployment.resolve(stack.resources[lambda_id]["Properties"]["Role"], stack) if lambda_id else None
        )
        found = self._role(role_arn) if role_arn else None
        if found is None:
            self.findings.append(Finding(where, "the handler function or its role is not resolvable", source))
            return
        target = self._custom_resource_target(stack, kind, properties)
        for action in actions:
            # Object-level calls act on the bucket's objects, not on the bucket.
            on = f"{target}/any-key" if target != ANY_RESOURCE and "Object" in action else target
            request = Request(action, on, self._context(stack))
            self._role_may(found, request, where, source)

    def _custom_resource_target(self, stack: Stack, kind: str, properties: Mapping[str, Any]) -> str | None:
        if kind == "Custom::S3AutoDeleteObjects":
            bucket = self.deployment.resolve(properties.get("BucketName"), stack)
            return f"arn:aws:s3:::{bucket}" if bucket else None
        return ANY_RESOURCE  # the image copy's source is CDK's asset repository, named at deploy time

    def _role_may(self, role: tuple[Stack, str], request: Request, where: str, source: str) -> None:
        """The role's own policies, or a resource policy naming it, allow `request`; its boundary does too."""
        role_stack, role_id = role
        role_arn = self.deployment.arn(role_stack, role_id) or ""
        identity = self._identity_statements(role_stack, role_id)
        granted = evaluate(identity, request) is Decision.ALLOWED or any(
            evaluate(statements, request) is Decision.ALLOWED for statements in self._resource_grants_to(role_arn)
        )
        if not granted:
            self._require(identity, request, where, source, f"the role {role_arn.rsplit('/', 1)[-1]}")
        boundary = self.deployment.resolve(
            role_stack.resources[role_id]["Properties"].get("PermissionsBoundary"), role_stack
        )
        # The boundary each account's administrator creates (docs/delivery.md): the role's own account's.
        expected = f"arn:aws:iam::{role_stack.account}:policy/{self.boundary_name}"
        if boundary and boundary != expected:
            what = f"the role {role_arn.rsplit('/', 1)[-1]} has the boundary {boundary}, not {expected}"
            self.findings.append(Finding(where, what, BOUNDARY_DOC))
        elif boundary:
            self._require(self.boundary, request, where, source + "; " + BOUNDARY_DOC, "the permissions boundary")

    def _resource_grants_to(self, role_arn: str) -> Iterator[list[dict[str, Any]]]:
        for stack, _, resource in self.deployment.resources():
            for document in _resource_policies(resource):
                statements = [
                    s
                    for s in self._resolved(document, stack)["Statement"]
                    if s["Effect"] == "Allow" and role_arn in self._principals(s, stack)
                ]
                if statements:
                    yield statements

    def _principals(self, statement: Mapping[str, Any], stack: Stack) -> list[str]:
        principal = statement.get("Principal", {})
        if not isinstance(principal, dict):
            return []
        return [self.deployment.resolve(p, stack) or "" for p in as_list(principal.get("AWS", []))]

    # -- 2. what AWS checks on the caller beyond the handler lists ---------------------------------

    def caller_requirements(self) -> None:
        for stack in self.deployment:
            for reference in references(stack.template):
                if "Fn::GetStackOutput" in reference:
                    target = reference["Fn::GetStackOutput"]
                    region = target.get("Region", stack.region)
                    arn = f"arn:aws:cloudformation:{region}:{stack.account}:stack/{target['StackName']}/*"
                    request = Request("cloudformation:DescribeStacks", arn, self._context(stack))
                    self._require(
                        self.execution,
                        request,
                        f"{stack.name} (Fn::GetStackOutput)",
                        GET_STACK_OUTPUT_DOC,
                        "the CloudFormation execution role",
                    )
        for stack, logical_id, resource in self.deployment.resources():
            kind = resource["Type"]
            properties = resource.get("Properties", {})
            where = f"{stack.name}/{logical_id} ({kind})"
            context = self._context(stack)
            if (
                kind == "AWS::ApplicationAutoScaling::ScalableTarget"
                and properties.get("ServiceNamespace") == "sagemaker"
            ):
                # An inference component's copy count is described and set through the component's own API.
                component = properties.get("ScalableDimension") == "sagemaker:inference-component:DesiredCopyCount"
                for action in (
                    ("sagemaker:DescribeInferenceComponent", "sagemaker:UpdateInferenceComponentRuntimeConfig")
                    if component
                    else (
                        "sagemaker:DescribeEndpoint",
                        "sagemaker:DescribeEndpointConfig",
                        "sagemaker:UpdateEndpointWeightsAndCapacities",
                    )
                ):
                    self._require(
                        self.execution,
                        Request(action, ANY_RESOURCE, context),
                        where,
                        AUTOSCALING_DOC,
                        "the CloudFormation execution role",
                    )
            if (
                kind == "AWS::ApplicationAutoScaling::ScalingPolicy"
                and "TargetTrackingScalingPolicyConfiguration" in properties
            ):
                for action in ("cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms"):
                    request = Request(
                        action,
                        f"arn:aws:cloudwatch:{stack.region}:{stack.account}:alarm:TargetTracking-endpoint/x",
                        context,
                    )
                    self._require(self.execution, request, where, AUTOSCALING_DOC, "the CloudFormation execution role")
            if kind == "AWS::SageMaker::Endpoint":
                config = self._endpoint_config(stack, properties)
                key = config and config.get("KmsKeyId")
                if key:
                    request = Request("kms:CreateGrant", self.deployment.resolve(key, stack), context)
                    self._require(
                        self.execution,
                        request,
                        where,
                        SAGEMAKER_API_PERMISSIONS_DOC
                        + " (CreateEndpoint, UpdateEndpoint: kms:CreateGrant when the endpoint config has a KmsKeyId)",
                        "the CloudFormation execution role",
                    )

    def _endpoint_config(self, stack: Stack, properties: Mapping[str, Any]) -> Mapping[str, Any] | None:
        name = properties.get("EndpointConfigName", {})
        logical_id = name.get("Fn::GetAtt", [None])[0] if isinstance(name, dict) else None
        if isinstance(logical_id, str) and logical_id in stack.resources:
            config: Mapping[str, Any] = stack.resources[logical_id].get("Properties", {})
            return config
        return None

    def service_key_use(self) -> None:
        """Key policies let the services that use a key for the app's resources do so."""
        for stack, logical_id, resource in self.deployment.resources():
            kind = resource["Type"]
            properties = resource.get("Properties", {})
            where = f"{stack.name}/{logical_id} ({kind})"
            if kind == "AWS::Logs::LogGroup" and "KmsKeyId" in properties:
                name = self.deployment.physical_name(stack, logical_id)
                context = {"kms:EncryptionContext:aws:logs:arn": stack.arn("logs", f"log-group:{name}")}
                service = f"logs.{stack.region}.amazonaws.com"
                self._key_allows(stack, properties["KmsKeyId"], service, LOGS_KEY_ACTIONS, context, where, LOGS_KMS_DOC)
            if (
                kind == "AWS::SNS::Topic"
                and "KmsMasterKeyId" in properties
                and self._alarms_publish_to(stack, logical_id)
            ):
                context = {"aws:SourceAccount": stack.account}
                key = properties["KmsMasterKeyId"]
                self._key_allows(
                    stack, key, "cloudwatch.amazonaws.com", ALARM_TOPIC_KEY_ACTIONS, context, where, SNS_KMS_DOC
                )

    def _key_allows(
        self,
        stack: Stack,
        key: Any,
        service: str,
        actions: Sequence[str],
        context: Mapping[str, str],
        where: str,
        source: str,
    ) -> None:
        arn = self.deployment.resolve(key, stack)
        found = next(
            (
                (s, lid)
                for s, lid, r in self.deployment.resources()
                if r["Type"] == "AWS::KMS::Key" and self.deployment.arn(s, lid) == arn
            ),
            None,
        )
        if found is None:
            self.findings.append(Finding(where, f"the key {arn or '(unresolved)'} is not one of the app's", source))
            return
        key_stack, key_id = found
        policy = self._resolved(key_stack.resources[key_id]["Properties"]["KeyPolicy"], key_stack)["Statement"]
        for_service = [
            s for s in policy if service in as_list(s.get("Principal", {}).get("Service", [])) or s["Effect"] == "Deny"
        ]
        for action in actions:
            request = Request(action, arn, {**self._context(stack), **context})
            self._require(for_service, request, where, source, f"the key policy for {service}")

    def _alarms_publish_to(self, stack: Stack, topic_id: str) -> bool:
        topic = self.deployment.arn(stack, topic_id)
        return any(
            r["Type"] == "AWS::CloudWatch::Alarm"
            and topic in [self.deployment.resolve(a, s) for a in r.get("Properties", {}).get("AlarmActions", [])]
            for s, _, r in self.deployment.resources()
        )

    # -- 3. run-time needs of the roles ------------------------------------------------------------

    def runtime_needs(self) -> None:
        for stack, logical_id, resource in self.deployment.resources():
            kind = resource["Type"]
            properties = resource.get("Properties", {})
            where = f"{stack.name}/{logical_id} ({kind})"
            if kind == "AWS::StepFunctions::StateMachine":
                self._state_machine_needs(stack, where, properties)
            if kind == "AWS::SageMaker::Model" and "VpcConfig" in properties:
                self._vpc_needs(stack, where, properties.get("ExecutionRoleArn"))
            if kind == "AWS::SageMaker::EndpointConfig" and "AsyncInferenceConfig" in properties:
                self._async_needs(stack, where, properties)

    def _async_needs(self, stack: Stack, where: str, properties: Mapping[str, Any]) -> None:
        """The served models' roles read requests, write results and failures, and notify (ASYNC_INFERENCE_DOC)."""
        output = properties["AsyncInferenceConfig"]["OutputConfig"]
        requests: list[Request] = []
        for path in ("S3OutputPath", "S3FailurePath"):
            uri = self.deployment.resolve(output.get(path), stack) or ""
            for action in ASYNC_OBJECT_WRITE:
                requests.append(Request(action, _object_arn(uri, "request-id.out"), self._context(stack)))
        # Requests are uploaded under the contract's prefix of the output's bucket (config/contract.py).
        bucket_uri = (self.deployment.resolve(output.get("S3OutputPath"), stack) or "").split("/")[:3]
        input_uri = "/".join(bucket_uri) + "/" + ASYNC_INPUT_PREFIX
        requests += [
            Request(action, _object_arn(input_uri, "body.csv"), self._context(stack)) for action in ASYNC_OBJECT_READ
        ]
        keys = [self.deployment.resolve(output.get("KmsKeyId"), stack)]
        for topic_field in ("SuccessTopic", "ErrorTopic"):
            topic = self.deployment.resolve(output.get("NotificationConfig", {}).get(topic_field), stack)
            if topic is None:
                continue
            requests += [Request(action, topic, self._context(stack)) for action in ASYNC_TOPIC_ACTIONS]
            keys.append(self._topic_key(topic))
        requests += [
            Request(action, key, self._context(stack))
            for key in dict.fromkeys(keys)
            if key
            for action in ASYNC_KEY_ACTIONS
        ]
        for variant in properties.get("ProductionVariants", []):
            role = self._model_role(stack, variant.get("ModelName"))
            if role is None:
                self.findings.append(Finding(where, "the served model's role is not resolvable", ASYNC_INFERENCE_DOC))
                continue
            for request in requests:
                self._role_may(role, request, where, ASYNC_INFERENCE_DOC)

    def _model_role(self, stack: Stack, model_name: Any) -> tuple[Stack, str] | None:
        model_id = model_name.get("Fn::GetAtt", [None])[0] if isinstance(model_name, dict) else None
        model = stack.resources.get(model_id, {}) if isinstance(model_id, str) else {}
        return self._role(self.deployment.resolve(model.get("Properties", {}).get("ExecutionRoleArn"), stack) or "")

    def _topic_key(self, topic_arn: str) -> str | None:
        """The key an app's topic is encrypted with (None for a topic without one, or not the app's)."""
        for stack, logical_id, resource in self.deployment.resources():
            if resource["Type"] == "AWS::SNS::Topic" and self.deployment.arn(stack, logical_id) == topic_arn:
                return self.deployment.resolve(resource.get("Properties", {}).get("KmsMasterKeyId"), stack)
        return None

    def _state_machine_needs(self, stack: Stack, where: str, properties: Mapping[str, Any]) -> None:
        definition = json.dumps(properties.get("DefinitionString", ""))
        role = self._role(self.deployment.resolve(properties.get("RoleArn"), stack) or "")
        if role is None:
            self.findings.append(
                Finding(where, "the state machine's role is not resolvable", STEP_FUNCTIONS_SAGEMAKER_DOC)
            )
            return
        for api in STEP_FUNCTIONS_SAGEMAKER:
            for sync in ("", ".sync"):
                if (
                    f'arn:aws:states:::sagemaker:{api}{sync}\\"' not in definition
                    and f'states:::sagemaker:{api}{sync}\\"' not in definition
                ):
                    continue
                for need in step_functions_sagemaker_needs(api, sync=bool(sync)):
                    request = Request(need, ANY_RESOURCE, self._context(stack))
                    self._role_may(role, request, where, STEP_FUNCTIONS_SAGEMAKER_DOC)
        self._sdk_integration_needs(stack, where, role, properties.get("DefinitionString", ""))
        sagemaker_roles = [
            found
            for arn in self._roles_in(stack, properties.get("DefinitionString"))
            if (found := self._role(arn))
            and "sagemaker.amazonaws.com"
            in json.dumps(found[0].resources[found[1]]["Properties"]["AssumeRolePolicyDocument"])
        ]
        for feature, (actions, source) in JOB_FEATURE_NEEDS.items():
            if f'\\"{feature}\\"' in definition:
                for sagemaker_role in sagemaker_roles:
                    for action in actions:
                        self._role_may(
                            sagemaker_role, Request(action, ANY_RESOURCE, self._context(stack)), where, source
                        )
        if '\\"VolumeKmsKeyId\\"' in definition:
            # SageMaker makes the volume's grant as whichever of the two roles may (api-permissions-reference).
            context = self._context(stack, **{"kms:GrantIsForAWSResource": "true"})
            request = Request("kms:CreateGrant", ANY_RESOURCE, context)
            if not any(
                evaluate(self._identity_statements(*candidate), request) is Decision.ALLOWED
                and evaluate(self.boundary, request) is Decision.ALLOWED
                for candidate in [role, *sagemaker_roles]
            ):
                what = "kms:CreateGrant (VolumeKmsKeyId): allowed to neither the state machine's role nor the job's"
                self.findings.append(Finding(where, what, SAGEMAKER_API_PERMISSIONS_DOC))

    def _sdk_integration_needs(self, stack: Stack, where: str, role: Any, definition_string: Any) -> None:
        """Each `aws-sdk:<service>:<apiAction>` task: the API's action, and what its request's fields need."""
        for state in _states(definition_string):
            match = re.fullmatch(r"arn:[^:]+:states:::aws-sdk:([a-z0-9-]+):(\w+)", str(state.get("Resource", "")))
            if match is None:
                continue
            service, api = match.groups()
            action = f"{service}:{api[0].upper()}{api[1:]}"
            if service not in SDK_SERVICES_CHECKED and action not in SDK_ACTIONS_CHECKED:
                continue
            parameters = state.get("Parameters", {})
            # The API's own action is evaluated with the condition keys its request sets (e.g. the approval status).
            keys = SDK_REQUEST_CONDITION_KEYS.get(action, {})
            sent = {key: parameters[field_name] for field_name, key in keys.items() if field_name in parameters}
            self._role_may(
                role, Request(action, ANY_RESOURCE, self._context(stack, **sent)), where, STEP_FUNCTIONS_SDK_DOC
            )
            needs: list[tuple[str, str]] = []
            if action in SDK_API_NEEDS:
                actions, source = SDK_API_NEEDS[action]
                needs += [(need, source) for need in actions]
            for field_name, (actions, source) in SDK_REQUEST_NEEDS.items():
                if field_name in parameters or f"{field_name}.$" in parameters:
                    needs += [(action, source) for action in actions]
            for action, source in needs:
                self._role_may(role, Request(action, ANY_RESOURCE, self._context(stack)), where, source)

    def _vpc_needs(self, stack: Stack, where: str, role_value: Any) -> None:
        arn = (
            role_value
            if isinstance(role_value, str) and ":role/" in role_value
            else self.deployment.resolve(role_value, stack)
        )
        role = self._role(arn or "")
        if role is None:
            self.findings.append(Finding(where, "a SageMaker role in a VPC is not resolvable", SAGEMAKER_VPC_DOC))
            return
        trusted = json.dumps(role[0].resources[role[1]]["Properties"]["AssumeRolePolicyDocument"])
        if "sagemaker.amazonaws.com" not in trusted:
            return  # the state machine's own role: it passes the SageMaker role, which is the one in the VPC
        for action in SAGEMAKER_VPC_ACTIONS:
            self._role_may(role, Request(action, ANY_RESOURCE, self._context(stack)), where, SAGEMAKER_VPC_DOC)

    # -- 4. resource-policy grants to bounded roles ------------------------------------------------

    def bounded_grants(self) -> None:
        for stack, logical_id, resource in self.deployment.resources():
            for document in _resource_policies(resource):
                for statement in self._resolved(document, stack)["Statement"]:
                    if statement["Effect"] != "Allow":
                        continue
                    for principal in self._principals(statement, stack):
                        role = self._role(principal)
                        if role is None or "PermissionsBoundary" not in role[0].resources[role[1]]["Properties"]:
                            continue
                        for action in as_list(statement.get("Action", [])):
                            expanded = [a for a in iam_actions() if _glob_lower(action, a)] or [action.lower()]
                            passing = [
                                a for a in expanded if evaluate(self.boundary, Request(a, "*")) is Decision.ALLOWED
                            ]
                            if not passing:
                                self.findings.append(
                                    Finding(
                                        f"{stack.name}/{logical_id} ({resource['Type']})",
                                        f"grants {action} to the bounded role {principal.rsplit('/', 1)[-1]}, "
                                        "which its boundary does not allow",
                                        BOUNDARY_DOC,
                                    )
                                )

    # -- 5. fixed physical names -------------------------------------------------------------------

    def fixed_names(self) -> None:
        owners: dict[tuple[str, str, str, str], str] = {}
        for stack, logical_id, resource in self.deployment.resources():
            kind = resource["Type"]
            name = _literal_name(kind, resource.get("Properties", {}))
            if name is None:
                continue
            where = f"{stack.name}/{logical_id} ({kind})"
            place = (kind, stack.account, stack.region, name)
            if place in owners:
                what = f"{name} is created by {owners[place]} too: the second create fails with AlreadyExists"
                self.findings.append(Finding(where, what, IMPORT_DOC, "name"))
            owners.setdefault(place, where)
            taken = self._may_exist_already(stack, logical_id, resource, name)
            if taken is None:
                continue
            reason, source = taken
            if self.imports_existing and _importable(resource):
                self._import_permissions(stack, logical_id, resource, where)
                continue
            what = (
                f"{reason}: its create fails with AlreadyExists unless the deploy imports it "
                "(`cdk deploy --import-existing-resources`, DeletionPolicy Retain, an importable type)"
            )
            self.findings.append(Finding(where, what, f"{source}; {IMPORT_DOC}", "name"))

    def _may_exist_already(
        self, stack: Stack, logical_id: str, resource: Mapping[str, Any], name: str
    ) -> tuple[str, str] | None:
        """Why a resource named `name` may exist before this stack creates it, and where AWS says so."""
        if resource["Type"] == "AWS::Logs::LogGroup":
            if ACCOUNT_WIDE_SAGEMAKER_LOG_GROUPS.fullmatch(name):
                return f"SageMaker creates {name} on the account's first job of that kind (any environment's)", (
                    SAGEMAKER_LOG_GROUPS_DOC
                )
            endpoint = ENDPOINT_LOG_GROUP.fullmatch(name)
            if endpoint and not self._created_before_endpoint(stack, logical_id, endpoint.group("endpoint")):
                return f"SageMaker creates {name} when the endpoint starts, before this stack does", (
                    SAGEMAKER_LOG_GROUPS_DOC
                )
        if {"Retain", "RetainExceptOnCreate"} & {resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy")}:
            return f"{name} is retained after the stack is deleted, and met when the stack is created again", RETAIN_DOC
        return None

    def _import_permissions(self, stack: Stack, logical_id: str, resource: Mapping[str, Any], where: str) -> None:
        """Importing runs the type's read handler on the existing resource: all of it, no excuses."""
        for action in read_permissions(resource["Type"], stack.region):
            if is_iam_action(action):
                request = Request(action, self.deployment.arn(stack, logical_id), self._context(stack))
                source = SCHEMA_DOC.format(type=resource["Type"], handler="read") + f"; {IMPORT_DOC}"
                self._require(self.execution, request, where, source, "the CloudFormation execution role")

    def _created_before_endpoint(self, stack: Stack, log_group: str, endpoint_name: str) -> bool:
        for resource in stack.resources.values():
            if (
                resource["Type"] == "AWS::SageMaker::Endpoint"
                and resource["Properties"].get("EndpointName") == endpoint_name
            ):
                return log_group in as_list(resource.get("DependsOn", []))
        return False


def _object_arn(uri: str, key: str) -> str:
    """The ARN of object `key` under the S3 URI `uri` (s3://bucket/prefix/)."""
    return "arn:aws:s3:::" + uri.removeprefix("s3://").rstrip("/") + "/" + key


def _glob_lower(pattern: str, action: str) -> bool:
    return fnmatchcase(action, pattern.lower())


def _importable(resource: Mapping[str, Any]) -> bool:
    return resource["Type"] in IMPORTABLE_TYPES and resource.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate")


def _resource_policies(resource: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    properties = resource.get("Properties", {})
    kind = resource["Type"]
    if kind in ("AWS::S3::BucketPolicy", "AWS::SNS::TopicPolicy"):
        return [properties["PolicyDocument"]]
    if kind == "AWS::KMS::Key":
        return [properties["KeyPolicy"]]
    return []


def _literal_name(kind: str, properties: Mapping[str, Any]) -> str | None:
    """The physical name the template fixes (a string it does not derive from a generated one)."""
    value = properties.get(NAME_PROPERTIES.get(kind, ""))
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and not any(True for _ in references(value)):
        return json.dumps(value)
    return None


def check(
    deployment: Deployment,
    *,
    execution: Statements,
    boundary: Statements,
    boundary_name: str,
    imports_existing: bool = False,
) -> list[Finding]:
    """Every unmet requirement of `deployment` when CloudFormation acts with `execution`'s statements.

    `imports_existing`: whether the deploy command imports named resources that already exist
    (`cdk deploy --import-existing-resources`).
    """
    checker = Checker(deployment, execution, boundary, boundary_name)
    checker.imports_existing = imports_existing
    checker.handler_permissions()
    checker.caller_requirements()
    checker.service_key_use()
    checker.runtime_needs()
    checker.bounded_grants()
    checker.fixed_names()
    return sorted(set(checker.findings))


def _states(definition_string: Any) -> Iterator[dict[str, Any]]:
    """Every state of a definition (nested ones too), its CloudFormation references spelled `REF`."""
    parts = definition_string["Fn::Join"][1] if isinstance(definition_string, dict) else [definition_string]
    definition = json.loads("".join(part if isinstance(part, str) else "REF" for part in parts))

    def walk(states: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        for state in states.values():
            yield state
            for branch in [*state.get("Branches", []), *([state["Iterator"]] if "Iterator" in state else [])]:
                yield from walk(branch["States"])

    return walk(definition["States"])
