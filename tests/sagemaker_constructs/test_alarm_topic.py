"""AlarmTopic: an encrypted, TLS-only topic that CloudWatch alarms can publish to."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Match, Template

from sagemaker_constructs import AlarmTopic


def test_the_topic_is_encrypted_with_the_key(stack: cdk.Stack) -> None:
    """GIVEN a key
    WHEN an alarm topic is made with it
    THEN the topic is encrypted with the key and denies requests without TLS."""
    AlarmTopic(stack, "Alarms", encryption_key=kms.Key(stack, "Key"))
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
    )


def test_cloudwatch_may_use_the_key_for_this_account(stack: cdk.Stack) -> None:
    """GIVEN an alarm topic on a key
    WHEN the key policy is synthesized
    THEN CloudWatch may use the key, for alarms of this account only."""
    AlarmTopic(stack, "Alarms", encryption_key=kms.Key(stack, "Key"))
    Template.from_stack(stack).has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                                "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_an_email_is_subscribed_when_given(stack: cdk.Stack) -> None:
    """GIVEN an on-call email WHEN the topic is made THEN the email is subscribed."""
    AlarmTopic(stack, "Alarms", encryption_key=kms.Key(stack, "Key"), email="oncall@example.com")
    Template.from_stack(stack).has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "oncall@example.com"}
    )


def test_no_subscription_without_an_email(stack: cdk.Stack) -> None:
    """GIVEN no email WHEN the topic is made THEN nothing is subscribed."""
    AlarmTopic(stack, "Alarms", encryption_key=kms.Key(stack, "Key"))
    Template.from_stack(stack).resource_count_is("AWS::SNS::Subscription", 0)
