"""Log groups that SageMaker writes to by fixed name, created ahead with retention and the key."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from sagemaker_constructs.validation import raise_if_any


class EncryptedLogGroups(Construct):
    """Creates `names` as log groups encrypted with `encryption_key`, kept `retention_days`.

    For log groups a service creates on first use (unencrypted, kept forever) when they do not
    exist: created here first, the service writes into them as they are. Exposes `log_groups` by name.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        names: Sequence[str],
        encryption_key: kms.IKey,
        retention_days: int,
        removal_policy: cdk.RemovalPolicy,
    ) -> None:
        super().__init__(scope, id_)
        errors = [f"log group names here start with '/', got {name!r}" for name in names if not name.startswith("/")]
        raise_if_any(self, errors or ([] if names else ["names must list at least one log group"]))
        self.log_groups: dict[str, logs.CfnLogGroup] = {}
        for name in names:
            log_group = logs.CfnLogGroup(
                self,
                name.strip("/").replace("/", ""),
                log_group_name=name,
                retention_in_days=retention_days,
                kms_key_id=encryption_key.key_arn,
            )
            log_group.apply_removal_policy(removal_policy)
            self.log_groups[name] = log_group
