"""state_machines: the role, log group, logging, tracing and permissions every state machine of the app has."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_stepfunctions as sfn

from sagemaker_constructs.state_machines import (
    acknowledge_log_and_trace,
    encrypted_log_group,
    log_and_trace_statements,
    logged_state_machine,
    state_machine_role,
)
from tests.helpers import logical_id, one_of_type, template_of


def _logged(stack: cdk.Stack) -> sfn.StateMachine:
    key = kms.Key(stack, "Key")
    role = state_machine_role(stack, "Role", description="runs the test")
    policy = iam.ManagedPolicy(stack, "Policy", roles=[role], statements=log_and_trace_statements())
    acknowledge_log_and_trace(policy)
    log_group = encrypted_log_group(
        stack,
        "Logs",
        log_group_name="/aws/vendedlogs/states/app-dev-test",
        encryption_key=key,
        retention_days=30,
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )
    # Keyword arguments alike in shape only to tests/helpers.py's make_platform (duplicates pairs them).
    return logged_state_machine(
        stack,
        "StateMachine",
        definition=sfn.Pass(stack, "Nothing"),
        role=role,
        policy=policy,
        log_group=log_group,
        comment="a test",
    )


def test_the_state_machine_logs_everything_to_its_encrypted_group_and_traces(stack: cdk.Stack) -> None:
    """GIVEN a logged state machine WHEN synthesized
    THEN it is STANDARD, logs ALL with execution data to the KMS-encrypted group kept 30 days, and traces."""
    _logged(stack)
    template = template_of(stack)
    machine = one_of_type(template, "AWS::StepFunctions::StateMachine")["Properties"]
    assert machine["StateMachineType"] == "STANDARD"
    assert machine["TracingConfiguration"] == {"Enabled": True}
    assert machine["LoggingConfiguration"]["Level"] == "ALL"
    assert machine["LoggingConfiguration"]["IncludeExecutionData"] is True
    group = one_of_type(template, "AWS::Logs::LogGroup")
    assert group["Properties"]["RetentionInDays"] == 30
    assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [logical_id(stack, "Key"), "Arn"]}
    assert group["DeletionPolicy"] == "Delete"


def test_the_state_machine_waits_for_its_policy_and_takes_no_grants_of_its_tasks(stack: cdk.Stack) -> None:
    """GIVEN a logged state machine WHEN synthesized
    THEN it is created after its role and policy (Step Functions checks log delivery at creation)
    and its role has no inline policy: the managed policy is all it may do."""
    _logged(stack)
    template = template_of(stack)
    machine = template["Resources"][logical_id(stack, "StateMachine")]
    assert {logical_id(stack, "Role"), logical_id(stack, "Policy")} <= set(machine["DependsOn"])
    assert "AWS::IAM::Policy" not in {resource["Type"] for resource in template["Resources"].values()}


def test_only_step_functions_of_this_account_may_assume_the_role(stack: cdk.Stack) -> None:
    """GIVEN a state machine role WHEN synthesized THEN states.amazonaws.com may assume it for this account only."""
    _logged(stack)
    statement = one_of_type(template_of(stack), "AWS::IAM::Role")["Properties"]["AssumeRolePolicyDocument"][
        "Statement"
    ][0]
    assert statement["Principal"] == {"Service": "states.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
