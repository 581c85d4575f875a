"""IAM statements on the environment's KMS key that several roles need, written once."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms


def use_key_statement(encryption_key: kms.IKey) -> iam.PolicyStatement:
    """Encrypt and decrypt with `encryption_key` (the buckets' and volumes' data)."""
    return iam.PolicyStatement(
        sid="UseKey",
        actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
        resources=[encryption_key.key_arn],
    )


def attach_encrypted_volumes_statement(
    encryption_key: kms.IKey, sid: str = "AttachEncryptedVolumes"
) -> iam.PolicyStatement:
    """Let SageMaker attach volumes encrypted with `encryption_key` to what it starts for this role."""
    return iam.PolicyStatement(
        sid=sid,
        actions=["kms:CreateGrant"],
        resources=[encryption_key.key_arn],
        conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
    )
