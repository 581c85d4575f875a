"""The customer-managed KMS key that encrypts an environment's data at rest."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct


class EncryptionKey(Construct):
    """A symmetric customer-managed KMS key with yearly automatic rotation.

    Used by the buckets, the image repository, the alarm topic and the log groups. The key policy
    lets CloudWatch Logs encrypt this account's log groups in this region; other services that
    encrypt with it are let in by the constructs that need them (`AlarmTopic` for alarms).

    :param alias: the key's alias, without the `alias/` prefix.
    :param removal_policy: RETAIN keeps the key (and so the data it encrypts readable) after the
        stack is deleted; DESTROY schedules its deletion after the shortest waiting period, 7 days.
    """

    def __init__(self, scope: Construct, id_: str, *, alias: str, removal_policy: cdk.RemovalPolicy) -> None:
        super().__init__(scope, id_)
        self.key = kms.Key(
            self,
            "Key",
            alias=f"alias/{alias}",
            description=f"Encrypts the data, images, logs and notifications of {alias}",
            enable_key_rotation=True,
            removal_policy=removal_policy,
            pending_window=cdk.Duration.days(7 if removal_policy == cdk.RemovalPolicy.DESTROY else 30),
        )
        # CloudWatch Logs encrypts a log group with a key only if the key policy lets the service
        # in; the encryption context limits it to log groups of this account and region.
        stack = cdk.Stack.of(self)
        log_groups = stack.format_arn(
            service="logs", resource="log-group", resource_name="*", arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogsOfThisAccount",
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],
                conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_groups}},
            )
        )
