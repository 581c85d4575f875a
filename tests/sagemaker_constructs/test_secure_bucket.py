"""SecureBucket: private, TLS-only, versioned, logged, with a lifecycle; retained or destroyed."""

from __future__ import annotations

import re

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Match, Template

from sagemaker_constructs import SecureBucket

NONCURRENT = cdk.Duration.days(30)


def _bucket(stack: cdk.Stack, **kwargs: object) -> Template:
    kwargs.setdefault("removal_policy", cdk.RemovalPolicy.RETAIN)
    kwargs.setdefault("noncurrent_version_expiration", NONCURRENT)
    SecureBucket(stack, "Bucket", **kwargs)  # type: ignore[arg-type]
    return Template.from_stack(stack)


def test_with_a_key_it_uses_sse_kms_with_a_bucket_key(stack: cdk.Stack) -> None:
    # GIVEN a KMS key WHEN a bucket is created with it
    """GIVEN a key WHEN a secure bucket is made with it THEN objects are encrypted with SSE-KMS and a bucket key."""
    template = _bucket(stack, encryption_key=kms.Key(stack, "Key"))
    # THEN objects are encrypted with that key, through an S3 bucket key
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {
                        "BucketKeyEnabled": True,
                        "ServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": Match.any_value(),
                        },
                    }
                ]
            }
        },
    )


def test_without_a_key_it_uses_sse_s3(stack: cdk.Stack) -> None:
    """GIVEN no key WHEN a secure bucket is made THEN objects are encrypted with SSE-S3."""
    template = _bucket(stack)
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            }
        },
    )


def test_it_is_private_versioned_and_owner_enforced(stack: cdk.Stack) -> None:
    """GIVEN a secure bucket
    WHEN it is synthesized
    THEN public access is blocked, versions are kept and the bucket owner owns every object."""
    template = _bucket(stack)
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "VersioningConfiguration": {"Status": "Enabled"},
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        },
    )


def test_it_denies_requests_without_tls_1_2(stack: cdk.Stack) -> None:
    """GIVEN a secure bucket WHEN its policy is synthesized THEN requests without TLS 1.2 or later are denied."""
    template = _bucket(stack)
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}),
                        Match.object_like({"Effect": "Deny", "Condition": {"NumericLessThan": {"s3:TlsVersion": 1.2}}}),
                    ]
                )
            }
        },
    )


def test_lifecycle_expires_noncurrent_versions_and_aborts_incomplete_uploads(stack: cdk.Stack) -> None:
    """GIVEN a 365-day expiration
    WHEN the bucket is synthesized
    THEN old versions expire, incomplete uploads are aborted and objects expire after 365 days."""
    template = _bucket(stack, expiration=cdk.Duration.days(365))
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "LifecycleConfiguration": {
                "Rules": [
                    {
                        "Id": "Retention",
                        "Status": "Enabled",
                        "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
                        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
                        "ExpirationInDays": 365,
                    }
                ]
            }
        },
    )


def test_it_logs_access_to_the_given_bucket_under_the_prefix(stack: cdk.Stack) -> None:
    """GIVEN a log bucket and the prefix data/
    WHEN a bucket logs to it
    THEN access logs go to that bucket under that prefix."""
    logs = SecureBucket(
        stack, "Logs", removal_policy=cdk.RemovalPolicy.RETAIN, noncurrent_version_expiration=NONCURRENT
    )
    template = _bucket(stack, access_log_bucket=logs.bucket, access_log_prefix="data/")
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "LoggingConfiguration": {
                "DestinationBucketName": {"Ref": Match.string_like_regexp("LogsBucket")},
                "LogFilePrefix": "data/",
            }
        },
    )


def test_retain_keeps_the_bucket_and_its_objects(stack: cdk.Stack) -> None:
    """GIVEN the RETAIN policy WHEN the bucket is synthesized THEN it and its objects outlive the stack."""
    template = _bucket(stack, removal_policy=cdk.RemovalPolicy.RETAIN)
    template.has_resource("AWS::S3::Bucket", {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"})
    template.resource_count_is("Custom::S3AutoDeleteObjects", 0)


def test_destroy_empties_and_deletes_the_bucket(stack: cdk.Stack) -> None:
    """GIVEN the DESTROY policy WHEN the bucket is synthesized THEN it is emptied and deleted with the stack."""
    template = _bucket(stack, removal_policy=cdk.RemovalPolicy.DESTROY)
    template.has_resource("AWS::S3::Bucket", {"DeletionPolicy": "Delete"})
    template.resource_count_is("Custom::S3AutoDeleteObjects", 1)


def test_a_log_bucket_without_a_prefix_is_rejected(stack: cdk.Stack) -> None:
    """GIVEN a log bucket without a prefix WHEN the bucket is made THEN a ValueError says both are needed."""
    logs = SecureBucket(
        stack, "Logs", removal_policy=cdk.RemovalPolicy.RETAIN, noncurrent_version_expiration=NONCURRENT
    )
    with pytest.raises(ValueError, match="access_log_bucket and access_log_prefix must be given together"):
        _bucket(stack, access_log_bucket=logs.bucket)


def test_a_prefix_without_a_trailing_slash_is_rejected(stack: cdk.Stack) -> None:
    """GIVEN the prefix 'data' WHEN the bucket is made THEN a ValueError says it must end with '/'."""
    logs = SecureBucket(
        stack, "Logs", removal_policy=cdk.RemovalPolicy.RETAIN, noncurrent_version_expiration=NONCURRENT
    )
    with pytest.raises(ValueError, match="access_log_prefix must end with '/', got 'data'"):
        _bucket(stack, access_log_bucket=logs.bucket, access_log_prefix="data")


def test_objects_under_a_prefix_expire_after_their_days(stack: cdk.Stack) -> None:
    """GIVEN a secure bucket whose objects under two prefixes expire
    WHEN it is synthesized
    THEN each prefix has a rule of its own, beside the bucket's retention rule, which expires nothing current."""
    template = _bucket(stack, expire_under={"a/in/": cdk.Duration.days(30), "b/": cdk.Duration.days(1)})
    rules = next(iter(template.find_resources("AWS::S3::Bucket").values()))["Properties"]["LifecycleConfiguration"]
    by_id = {rule["Id"]: rule for rule in rules["Rules"]}
    assert by_id["Expire-a/in"] == {"Id": "Expire-a/in", "Prefix": "a/in/", "ExpirationInDays": 30, "Status": "Enabled"}
    assert by_id["Expire-b"]["ExpirationInDays"] == 1 and "ExpirationInDays" not in by_id["Retention"]


@pytest.mark.parametrize(
    ("prefix", "after", "error"),
    [
        (
            "",
            cdk.Duration.days(1),
            "must be a key prefix ending in '/', not starting with one",
        ),  # the whole bucket: data and models too
        (
            "async",
            cdk.Duration.days(1),
            "must be a key prefix ending in '/', not starting with one",
        ),  # would also match async-other/
        ("/async/", cdk.Duration.days(1), "must be a key prefix ending in '/', not starting with one"),
        ("async/", cdk.Duration.hours(23), "must expire after whole days, at least one, got 23 hours"),
        ("async/", cdk.Duration.hours(36), "must expire after whole days, at least one, got 1 day 12 hours"),
    ],
)
def test_an_expiry_of_the_whole_bucket_or_of_part_of_a_day_is_refused(
    stack: cdk.Stack, prefix: str, after: cdk.Duration, error: str
) -> None:
    """GIVEN a prefix that is empty, unterminated or rooted, or a duration that is not whole days
    WHEN a secure bucket is asked to expire it THEN the error names the prefix and what is wrong with it, only that."""
    with pytest.raises(
        ValueError, match=r"^SecureBucket [^:]*: " + re.escape(f"expire_under: {prefix!r} {error}") + "$"
    ):
        _bucket(stack, expire_under={prefix: after})
