"""state_machines: the role, log group, logging, tracing and permissions every state machine of the app has.

Read from the app as synthesized once for the whole suite: each of its state machines (the training pipeline's
and the drift monitor's, in every environment) is built by state_machines.py, so each one is checked here and
none is built for the test alone.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.helpers import Synthesized, of_type

ENVIRONMENTS = ["dev", "staging", "prod"]


def _machines(synthesized: Synthesized, environment: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Each state machine of the environment with the template it stands in."""
    machines = [
        (template, machine)
        for template in synthesized.templates[environment].values()
        for machine in of_type(template, "AWS::StepFunctions::StateMachine").values()
    ]
    assert machines, f"{environment} has no state machine"
    return machines


def _by_ref(template: dict[str, Any], value: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The resource a `Fn::GetAtt` names, with its logical id."""
    logical_id = value["Fn::GetAtt"][0]
    resource: dict[str, Any] = template["Resources"][logical_id]
    return logical_id, resource


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_state_machine_logs_everything_to_its_encrypted_group_and_traces(
    synthesized: Synthesized, environment: str
) -> None:
    """GIVEN each environment's state machines WHEN synthesized
    THEN each is STANDARD, traces, and logs ALL with execution data to its own group, encrypted with the platform's
    key and kept the configured days; a retained group's name ends in its stack's id, a destroyed one's does not."""
    settings = synthesized.config.environment(environment)
    for template, machine in _machines(synthesized, environment):
        properties = machine["Properties"]
        assert properties["StateMachineType"] == "STANDARD"
        assert properties["TracingConfiguration"] == {"Enabled": True}
        logging = properties["LoggingConfiguration"]
        assert (logging["Level"], logging["IncludeExecutionData"]) == ("ALL", True)
        (destination,) = logging["Destinations"]
        _, group = _by_ref(template, destination["CloudWatchLogsLogGroup"]["LogGroupArn"])
        assert group["Properties"]["RetentionInDays"] == settings.log_retention_days
        assert "EncryptionKey" in group["Properties"]["KmsKeyId"]["Fn::GetStackOutput"]["OutputName"]
        name = json.dumps(group["Properties"]["LogGroupName"])
        if settings.retain_data:
            assert group["DeletionPolicy"] == "Retain"
            assert name.startswith('{"Fn::Join": ["-", ["/aws/vendedlogs/states/') and "AWS::StackId" in name
        else:
            assert group["DeletionPolicy"] == "Delete"
            assert name.startswith('"/aws/vendedlogs/states/')


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_state_machine_runs_as_a_step_functions_role_of_this_account_with_its_managed_policies_only(
    synthesized: Synthesized, environment: str
) -> None:
    """GIVEN each environment's state machines WHEN synthesized
    THEN each runs as a role only states.amazonaws.com, for this account, may assume; the role has no inline policy
    (its managed policies are all it may do) and the state machine is created after them (Step Functions checks
    log delivery at creation)."""
    for template, machine in _machines(synthesized, environment):
        role_id, role = _by_ref(template, machine["Properties"]["RoleArn"])
        (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {"Service": "states.amazonaws.com"}
        assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
        attached = {
            policy_id
            for policy_id, policy in of_type(template, "AWS::IAM::ManagedPolicy").items()
            if {"Ref": role_id} in policy["Properties"].get("Roles", [])
        }
        assert attached
        assert not [
            p for p in of_type(template, "AWS::IAM::Policy").values() if {"Ref": role_id} in p["Properties"]["Roles"]
        ]
        assert {role_id, *attached} <= set(machine["DependsOn"])
