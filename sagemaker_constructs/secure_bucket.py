"""An S3 bucket with the protections every bucket of this app gets."""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from sagemaker_constructs.nag import acknowledge_in_all_packs
from sagemaker_constructs.validation import raise_if_any

# Multipart uploads that never complete still cost storage; a week is ample for any real upload.
ABORT_INCOMPLETE_UPLOADS_AFTER = cdk.Duration.days(7)


class SecureBucket(Construct):
    """A private, versioned, TLS-only bucket with access logging and a lifecycle.

    Creates one `s3.Bucket` (exposed as `bucket`) that blocks all public access, denies requests
    without TLS 1.2, enforces bucket-owner object ownership, keeps versions and expires noncurrent
    ones after `noncurrent_version_expiration`, and aborts incomplete multipart uploads after 7 days.

    :param encryption_key: SSE-KMS with this key and an S3 bucket key (fewer KMS calls).
        @default SSE-S3, which is what S3 server access log delivery requires of its target bucket.
    :param access_log_bucket: where S3 writes this bucket's server access logs, under
        `access_log_prefix`. @default none: only for the access-log bucket itself.
    :param removal_policy: DESTROY also empties the bucket on stack deletion (auto-delete).
    :param expiration: expire current objects after this long. @default never.
    :param expire_under: expire current objects under each prefix after its duration, whole days (a rule per
        prefix, `Expire-<prefix>`). @default none.
    :param request_metrics: S3 request metrics (PutRequests, BytesUploaded ...) per filter id,
        for objects under the given prefix. @default none (they are billed as custom metrics).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        removal_policy: cdk.RemovalPolicy,
        noncurrent_version_expiration: cdk.Duration,
        encryption_key: kms.IKey | None = None,
        access_log_bucket: s3.IBucket | None = None,
        access_log_prefix: str | None = None,
        expiration: cdk.Duration | None = None,
        expire_under: Mapping[str, cdk.Duration] | None = None,
        request_metrics: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(scope, id_)
        expiring = (expire_under or {}).items()
        raise_if_any(
            self,
            [
                *(
                    f"expire_under: {prefix!r} must be a key prefix ending in '/', not starting with one"
                    for prefix, _ in expiring
                    if not prefix.endswith("/") or prefix.startswith("/")
                ),
                *(
                    f"expire_under: {prefix!r} must expire after whole days, at least one, "
                    f"got {after.to_human_string()}"
                    for prefix, after in expiring
                    if not _whole_days(after)
                ),
            ],
        )
        if (access_log_bucket is None) != (access_log_prefix is None):
            raise_if_any(self, ["access_log_bucket and access_log_prefix must be given together"])
        if access_log_prefix is not None and not access_log_prefix.endswith("/"):
            raise_if_any(self, [f"access_log_prefix must end with '/', got {access_log_prefix!r}"])
        destroy = removal_policy == cdk.RemovalPolicy.DESTROY
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            encryption=s3.BucketEncryption.KMS if encryption_key else s3.BucketEncryption.S3_MANAGED,
            encryption_key=encryption_key,
            bucket_key_enabled=encryption_key is not None,
            server_access_logs_bucket=access_log_bucket,
            server_access_logs_prefix=access_log_prefix,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="Retention",
                    noncurrent_version_expiration=noncurrent_version_expiration,
                    abort_incomplete_multipart_upload_after=ABORT_INCOMPLETE_UPLOADS_AFTER,
                    expiration=expiration,
                ),
                *(
                    s3.LifecycleRule(id=f"Expire-{prefix.rstrip('/')}", prefix=prefix, expiration=after)
                    for prefix, after in expiring
                ),
            ],
            removal_policy=removal_policy,
            auto_delete_objects=destroy,
            metrics=[
                s3.BucketMetrics(id=filter_id, prefix=prefix) for filter_id, prefix in (request_metrics or {}).items()
            ]
            or None,
        )
        acknowledge_in_all_packs(
            self.bucket,
            {"HIPAA.Security": "S3BucketReplicationEnabled", "NIST.800.53.R5": "S3BucketReplicationEnabled"},
            "Single-region by design: versioning with noncurrent-version retention protects against "
            "deletion and overwrite; cross-region replication is an organisation-wide DR decision "
            "that needs a destination bucket in another region, outside this app.",
        )
        if encryption_key is None:
            acknowledge_in_all_packs(
                self.bucket,
                {"HIPAA.Security": "S3DefaultEncryptionKMS", "NIST.800.53.R5": "S3DefaultEncryptionKMS"},
                "S3 server access log delivery only writes to buckets encrypted with SSE-S3 "
                "(https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html); "
                "this bucket holds access logs only, never training data or models.",
            )
        if access_log_bucket is None:
            acknowledge_in_all_packs(
                self.bucket,
                {
                    "AwsSolutions": "S1",
                    "HIPAA.Security": "S3BucketLoggingEnabled",
                    "NIST.800.53.R5": "S3BucketLoggingEnabled",
                },
                "This is the server access log bucket: logging its own writes would log every log "
                "delivery again, without end. Access to it is auditable through CloudTrail.",
            )


def _whole_days(duration: cdk.Duration) -> bool:
    """Whether `duration` is one day or more, in whole days: what an S3 lifecycle rule's expiration counts in."""
    hours = duration.to_hours(integral=False)
    return hours >= 24 and hours % 24 == 0
