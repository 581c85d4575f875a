"""The SNS topic alarms notify, encrypted with the environment's key."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct


class AlarmTopic(Construct):
    """An SNS topic for alarm notifications, encrypted with `encryption_key`, TLS-only.

    Lets CloudWatch alarms of this account use the key, which an alarm needs to publish to an
    encrypted topic. Subscribes `email` when given (the address must confirm the subscription).

    :param email: an address to notify. @default none: subscribe later, e.g. a chat integration.
    """

    def __init__(self, scope: Construct, id_: str, *, encryption_key: kms.IKey, email: str | None = None) -> None:
        super().__init__(scope, id_)
        stack = cdk.Stack.of(self)
        self.topic = sns.Topic(self, "Topic", master_key=encryption_key, enforce_ssl=True)
        if email is not None:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        encryption_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToPublishToEncryptedTopic",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )
