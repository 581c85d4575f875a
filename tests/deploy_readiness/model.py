"""The synthesized app as CloudFormation will see it: stacks by name, and their values resolved offline.

Resolves what a template fixes at synthesis (pseudo parameters, `Ref`/`Fn::GetAtt` of resources whose
physical name CloudFormation derives from the stack name and logical id, `Fn::Join`, `Fn::Sub`,
`Fn::GetStackOutput` of another stack of the app) into strings; anything else resolves to None,
which the policy evaluator reports as unresolvable rather than guessing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# What CloudFormation appends to a generated physical name (`<stack>-<logical id>-<suffix>`): a
# stand-in of the same shape, so that name patterns in policies match as they would in AWS.
GENERATED_SUFFIX = "GENERATED1234"


@dataclass(frozen=True)
class Stack:
    """One deployed stack: its CloudFormation name, template, account and region."""

    name: str
    template: Mapping[str, Any]
    account: str
    region: str

    @property
    def resources(self) -> Mapping[str, Mapping[str, Any]]:
        resources: Mapping[str, Mapping[str, Any]] = self.template.get("Resources", {})
        return resources

    def arn(self, service: str, rest: str, *, regional: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if regional else ''}:{self.account}:{rest}"


class Deployment:
    """Every stack of one synthesized app, by stack name, with an offline resolver of their values."""

    def __init__(self, stacks: list[Stack]) -> None:
        self.stacks = {stack.name: stack for stack in stacks}

    def __iter__(self) -> Iterator[Stack]:
        return iter(self.stacks.values())

    def resources(self) -> Iterator[tuple[Stack, str, Mapping[str, Any]]]:
        for stack in self:
            for logical_id, resource in stack.resources.items():
                yield stack, logical_id, resource

    # -- physical names and ARNs -------------------------------------------------------------------

    def physical_name(self, stack: Stack, logical_id: str) -> str | None:
        resource = stack.resources[logical_id]
        properties = resource.get("Properties", {})
        kind = resource["Type"]
        name_property = NAME_PROPERTIES.get(kind)
        if name_property and name_property in properties:
            return self.resolve(properties[name_property], stack)
        if kind == "AWS::IAM::OIDCProvider":
            url = self.resolve(properties.get("Url"), stack)
            return url.removeprefix("https://") if url else None
        generated = f"{stack.name}-{logical_id}-{GENERATED_SUFFIX}"
        if kind == "AWS::S3::Bucket":
            return generated.lower()[:63]
        if kind in ("AWS::IAM::Role", "AWS::IAM::ManagedPolicy", "AWS::Lambda::Function"):
            return generated[:64]
        return generated

    def arn(self, stack: Stack, logical_id: str) -> str | None:
        kind = stack.resources[logical_id]["Type"]
        name = self.physical_name(stack, logical_id)
        if name is None:
            return None
        arns = {
            "AWS::IAM::Role": lambda: stack.arn("iam", f"role/{name}", regional=False),
            "AWS::IAM::ManagedPolicy": lambda: stack.arn("iam", f"policy/{name}", regional=False),
            "AWS::IAM::OIDCProvider": lambda: stack.arn("iam", f"oidc-provider/{name}", regional=False),
            "AWS::S3::Bucket": lambda: f"arn:aws:s3:::{name}",
            "AWS::Lambda::Function": lambda: stack.arn("lambda", f"function:{name}"),
            "AWS::SNS::Topic": lambda: stack.arn("sns", name),
            "AWS::KMS::Key": lambda: stack.arn("kms", f"key/{name}"),
            "AWS::Logs::LogGroup": lambda: stack.arn("logs", f"log-group:{name}:*"),
            "AWS::SageMaker::Endpoint": lambda: stack.arn("sagemaker", f"endpoint/{name.lower()}"),
            "AWS::SageMaker::EndpointConfig": lambda: stack.arn("sagemaker", f"endpoint-config/{name.lower()}"),
            # The Service Authorization Reference's inference-component resource type.
            "AWS::SageMaker::InferenceComponent": lambda: stack.arn("sagemaker", f"inference-component/{name}"),
            "AWS::SageMaker::Model": lambda: stack.arn("sagemaker", f"model/{name.lower()}"),
            "AWS::SageMaker::NotebookInstance": lambda: stack.arn("sagemaker", f"notebook-instance/{name.lower()}"),
            "AWS::StepFunctions::StateMachine": lambda: stack.arn("states", f"stateMachine:{name}"),
            "AWS::ECR::Repository": lambda: stack.arn("ecr", f"repository/{name.lower()}"),
            "AWS::CloudWatch::Alarm": lambda: stack.arn("cloudwatch", f"alarm:{name}"),
        }
        build = arns.get(kind)
        return build() if build else None

    # -- intrinsic functions -----------------------------------------------------------------------

    def resolve(self, value: Any, stack: Stack) -> str | None:
        """`value` as a string, or None where it depends on something only AWS knows."""
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, dict) or len(value) != 1:
            return None
        ((function, argument),) = value.items()
        resolvers = {
            "Ref": self._ref,
            "Fn::GetAtt": self._get_att,
            "Fn::Join": self._join,
            "Fn::Sub": self._sub,
            "Fn::GetStackOutput": self._stack_output,
        }
        resolver = resolvers.get(function)
        return resolver(argument, stack) if resolver else None

    def _ref(self, name: Any, stack: Stack) -> str | None:
        pseudo = {
            "AWS::Partition": "aws",
            "AWS::AccountId": stack.account,
            "AWS::Region": stack.region,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": stack.name,
        }
        if name in pseudo:
            return pseudo[name]
        if name not in stack.resources:
            return None
        kind = stack.resources[name]["Type"]
        # Types whose Ref is the ARN; for the others it is the physical name (the registry's `Ref` docs).
        if kind in ("AWS::IAM::ManagedPolicy", "AWS::SNS::Topic", "AWS::StepFunctions::StateMachine"):
            return self.arn(stack, name)
        return self.physical_name(stack, name)

    def _get_att(self, argument: Any, stack: Stack) -> str | None:
        logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
        if logical_id not in stack.resources:
            return None
        if attribute in ("Arn", "TopicArn"):
            return self.arn(stack, logical_id)
        if attribute.endswith("Name"):
            return self.physical_name(stack, logical_id)
        return None

    def _join(self, argument: Any, stack: Stack) -> str | None:
        separator, parts = argument
        resolved = [self.resolve(part, stack) for part in parts] if isinstance(parts, list) else [None]
        return None if any(p is None for p in resolved) else separator.join(p for p in resolved if p is not None)

    def _sub(self, argument: Any, stack: Stack) -> str | None:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        failed = False

        def fill(match: re.Match[str]) -> str:
            nonlocal failed
            name = match.group(1)
            if name in variables:
                value = self.resolve(variables[name], stack)
            elif "." in name:
                value = self._get_att(name, stack)
            else:
                value = self._ref(name, stack)
            if value is None:
                failed = True
                return ""
            return value

        filled = re.sub(r"\$\{([^}!]+)\}", fill, text)
        return None if failed else filled

    def _stack_output(self, argument: Mapping[str, Any], stack: Stack) -> str | None:
        producer = self.stacks.get(argument["StackName"])
        if producer is None:
            return None
        output = producer.template.get("Outputs", {}).get(argument["OutputName"])
        return self.resolve(output["Value"], producer) if output else None


# The property that fixes each type's physical name (from the registry schemas' primaryIdentifier).
NAME_PROPERTIES = {
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::SageMaker::Endpoint": "EndpointName",
    "AWS::SageMaker::EndpointConfig": "EndpointConfigName",
    "AWS::SageMaker::InferenceComponent": "InferenceComponentName",
    "AWS::SageMaker::Model": "ModelName",
    "AWS::SageMaker::NotebookInstance": "NotebookInstanceName",
    "AWS::SageMaker::NotebookInstanceLifecycleConfig": "NotebookInstanceLifecycleConfigName",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
    "AWS::ECR::Repository": "RepositoryName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::KMS::Alias": "AliasName",
    "AWS::Events::Rule": "Name",
    "AWS::Scheduler::Schedule": "Name",
}


def references(node: Any) -> Iterator[Any]:
    """Every `Ref`, `Fn::GetAtt` and `Fn::GetStackOutput` node below `node`."""
    if isinstance(node, dict):
        if any(key in node for key in ("Ref", "Fn::GetAtt", "Fn::GetStackOutput")):
            yield node
        for value in node.values():
            yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)
