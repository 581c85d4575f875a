"""IAM pieces several constructs need: service roles, bucket and log statements (the key: key_statements)."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct


def service_role(scope: Construct, id_: str, *, service: str, description: str) -> iam.Role:
    """A role only `service`, acting for this account, may assume (confused-deputy protection: aws:SourceAccount)."""
    return iam.Role(
        scope,
        id_,
        assumed_by=iam.ServicePrincipal(
            service, conditions={"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}}
        ),
        description=description,
    )


def list_buckets_statement(*buckets: s3.IBucket) -> iam.PolicyStatement:
    """List `buckets` and find their region (what reading their objects through an SDK asks first)."""
    return iam.PolicyStatement(
        sid="ListBuckets",
        actions=["s3:ListBucket", "s3:GetBucketLocation"],
        resources=[bucket.bucket_arn for bucket in buckets],
    )


def write_logs_statements(
    groups: Sequence[str], streams: Sequence[str], *, create_sid: str, write_sid: str
) -> list[iam.PolicyStatement]:
    """Create (and describe) the log `groups`, and write the log `streams` (ARNs) only."""
    return [
        iam.PolicyStatement(
            sid=create_sid, actions=["logs:CreateLogGroup", "logs:DescribeLogStreams"], resources=list(groups)
        ),
        iam.PolicyStatement(
            sid=write_sid, actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=list(streams)
        ),
    ]
