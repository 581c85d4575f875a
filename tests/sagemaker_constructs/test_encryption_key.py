"""EncryptionKey: a rotated customer-managed key that CloudWatch Logs of this account may use."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk.assertions import Match, Template

from sagemaker_constructs import EncryptionKey

LOG_GROUPS = "arn:aws:logs:us-east-1:123456789012:log-group:*"


def test_the_key_rotates_and_has_the_alias(stack: cdk.Stack) -> None:
    """GIVEN a retained key named app-dev
    WHEN it is synthesized
    THEN it rotates, waits 30 days before deletion, is retained, and has the alias."""
    EncryptionKey(stack, "Key", alias="app-dev", removal_policy=cdk.RemovalPolicy.RETAIN)
    template = Template.from_stack(stack)
    template.has_resource(
        "AWS::KMS::Key",
        {"Properties": {"EnableKeyRotation": True, "PendingWindowInDays": 30}, "DeletionPolicy": "Retain"},
    )
    template.has_resource_properties("AWS::KMS::Alias", {"AliasName": "alias/app-dev"})


def test_a_destroyed_key_waits_the_shortest_period(stack: cdk.Stack) -> None:
    """GIVEN a key with the DESTROY policy WHEN it is synthesized THEN deletion waits the shortest period, 7 days."""
    EncryptionKey(stack, "Key", alias="app-dev", removal_policy=cdk.RemovalPolicy.DESTROY)
    Template.from_stack(stack).has_resource(
        "AWS::KMS::Key", {"Properties": Match.object_like({"PendingWindowInDays": 7}), "DeletionPolicy": "Delete"}
    )


def test_cloudwatch_logs_may_use_it_for_this_accounts_log_groups_only(stack: cdk.Stack) -> None:
    """GIVEN a key
    WHEN its policy is synthesized
    THEN CloudWatch Logs of this region may use it for this account's log groups only."""
    EncryptionKey(stack, "Key", alias="app-dev", removal_policy=cdk.RemovalPolicy.RETAIN)
    Template.from_stack(stack).has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Sid": "AllowCloudWatchLogsOfThisAccount",
                                "Principal": {"Service": "logs.us-east-1.amazonaws.com"},
                                "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": LOG_GROUPS}},
                            }
                        )
                    ]
                )
            }
        },
    )
