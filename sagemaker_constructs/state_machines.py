"""What every state machine of the app is set up with: its role, an encrypted log group, logging and tracing.

The training pipeline, the drift monitor and the approved images create their state machines here, so each logs ALL
events with execution data to a KMS-encrypted vended-logs group and traces with X-Ray; the pipeline's and the drift
monitor's also hold the permissions for running SageMaker jobs as the execution role. Their Task states that CDK's
task classes cannot express are written with `task_state`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from sagemaker_constructs.execution_role import SageMakerExecutionRole
from sagemaker_constructs.log_groups import LogSettings
from sagemaker_constructs.nag import acknowledge
from sagemaker_constructs.shared_iam import service_role


def task_state(
    partition: str,
    integration: str,
    parameters: Mapping[str, Any],
    *,
    result_path: str,
    result_selector: Mapping[str, Any] | None = None,
    comment: str | None = None,
) -> dict[str, Any]:
    """A Task state in Step Functions' own JSON, for an `sfn.CustomState`, calling `integration`: an optimised one
    (`sagemaker:createTransformJob.sync`) or an AWS SDK one (`aws-sdk:s3:putObject`), whose Resource ARN is
    `arn:<partition>:states:::<integration>`
    (https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html).

    For the properties CDK's task classes lack (spot training, DataProcessing) or APIs they do not cover.
    """
    return {
        "Type": "Task",
        **({"Comment": comment} if comment is not None else {}),
        "Resource": f"arn:{partition}:states:::{integration}",
        "Parameters": dict(parameters),
        **({"ResultSelector": dict(result_selector)} if result_selector is not None else {}),
        "ResultPath": result_path,
    }


def state_machine_role(scope: Construct, id_: str, *, description: str) -> iam.Role:
    """A role only Step Functions, on behalf of this account, may assume."""
    return service_role(scope, id_, service="states.amazonaws.com", description=description)


def starter_role(
    scope: Construct, id_: str, *, service: str, state_machine: sfn.IStateMachine, description: str | None = None
) -> iam.IRole:
    """A role only `service`, for this account, assumes to start `state_machine` (`<id_>Role`, `<id_>Policy`).

    Its one permission is in a managed policy: the target's own grant would add an inline policy, which the HIPAA
    and NIST packs refuse. The role returned takes no grants.
    """
    description = description or f"Lets {service} start one state machine"
    role = service_role(scope, f"{id_}Role", service=service, description=description)
    iam.ManagedPolicy(
        scope,
        f"{id_}Policy",
        roles=[role],
        statements=[
            iam.PolicyStatement(actions=["states:StartExecution"], resources=[state_machine.state_machine_arn])
        ],
    )
    return role.without_policy_updates()


def pass_execution_role_statement(execution_role: SageMakerExecutionRole) -> iam.PolicyStatement:
    """Pass the execution role, and only to SageMaker (`grant_pass_role`'s statement, for a managed policy)."""
    return iam.PolicyStatement(
        sid="PassExecutionRoleToSageMaker",
        actions=["iam:PassRole"],
        resources=[execution_role.role.role_arn],
        conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
    )


def sync_rules_statement(rule_arns: Sequence[str]) -> iam.PolicyStatement:
    """Manage the EventBridge rules through which a `.sync` SageMaker task learns that its job ended."""
    return iam.PolicyStatement(
        sid="LearnWhenJobsEnd",
        actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
        resources=list(rule_arns),
    )


def log_and_trace_statements() -> list[iam.PolicyStatement]:
    """What a state machine needs to deliver its logs and write its traces (none has resource-level permissions)."""
    return [
        # On "*": the Service Authorization Reference lists no resource type for any of these (checked by
        # tests/test_environment_isolation.py against its published data).
        iam.PolicyStatement(
            sid="DeliverLogs",
            actions=[
                "logs:CreateLogDelivery",
                "logs:GetLogDelivery",
                "logs:UpdateLogDelivery",
                "logs:DeleteLogDelivery",
                "logs:ListLogDeliveries",
                "logs:PutResourcePolicy",
                "logs:DescribeResourcePolicies",
                "logs:DescribeLogGroups",
            ],
            resources=["*"],
        ),
        iam.PolicyStatement(
            sid="Trace",
            actions=[
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
            ],
            resources=["*"],
        ),
    ]


def acknowledge_log_and_trace(policy: iam.ManagedPolicy) -> None:
    """The cdk-nag acknowledgment of `log_and_trace_statements`' `*` resources."""
    acknowledge(
        policy,
        "AwsSolutions-IAM5[Resource::*]",
        "CloudWatch Logs vended-log delivery (logs:*LogDelivery*, resource policies) and X-Ray trace "
        "writes have no resource-level permissions; Step Functions needs them to log and trace.",
    )


def encrypted_log_group(scope: Construct, id_: str, *, log_group_name: str, logs: LogSettings) -> aws_logs.CfnLogGroup:
    """A log group named `log_group_name`, kept as `logs` says.

    Retained, it is named `<log_group_name>-<the stack's id>`: a retained log group outlives its stack,
    and a stack created again under the same name would otherwise fail on it with AlreadyExists.
    """
    if logs.removal_policy == cdk.RemovalPolicy.RETAIN:
        # The stack id's last part is a UUID new with every creation of the stack, fixed across updates.
        stack_uuid = cdk.Fn.select(2, cdk.Fn.split("/", cdk.Aws.STACK_ID))
        log_group_name = cdk.Fn.join("-", [log_group_name, stack_uuid])
    return logs.log_group(scope, id_, name=log_group_name)


def logged_state_machine(
    scope: Construct,
    id_: str,
    *,
    definition: sfn.IChainable,
    role: iam.Role,
    policy: iam.ManagedPolicy,
    log_group_name: str,
    logs: LogSettings,
    comment: str,
) -> tuple[sfn.StateMachine, aws_logs.CfnLogGroup]:
    """A STANDARD state machine that runs as `role` with `policy` only, traces, and logs ALL events to its own
    log group (`Logs`, an `encrypted_log_group` named `log_group_name`, kept as `logs` says); returns both.

    The role is an immutable view: the tasks' own grants (sagemaker:* on every job, ListTags on '*') are
    dropped; `policy` is everything the state machine may do.
    """
    log_group = encrypted_log_group(scope, "Logs", log_group_name=log_group_name, logs=logs)
    state_machine = sfn.StateMachine(
        scope,
        id_,
        definition_body=sfn.DefinitionBody.from_chainable(definition),
        state_machine_type=sfn.StateMachineType.STANDARD,
        role=role.without_policy_updates(),
        logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        tracing_enabled=True,
        comment=comment,
    )
    # Step Functions checks the log-delivery permissions when it creates the state machine.
    state_machine.node.add_dependency(role, policy)
    return state_machine, log_group
