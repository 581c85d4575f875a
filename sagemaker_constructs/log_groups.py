"""How the app keeps its log groups (`LogSettings`), and the ones SageMaker writes to by fixed name, made ahead."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from sagemaker_constructs.validation import raise_if_any


@dataclass(frozen=True)
class LogSettings:
    """What every log group of an environment is made with: encrypted with `encryption_key`, kept
    `retention_days` (one of CloudWatch's values, checked where the configuration is loaded), and removed or
    kept with its stack as `removal_policy` says. A stack makes one (`EnvironmentStack.log_settings`) and
    passes it to every construct that makes a log group.
    """

    encryption_key: kms.IKey
    retention_days: int
    removal_policy: cdk.RemovalPolicy

    def keep(self, log_group: logs.CfnLogGroup) -> logs.CfnLogGroup:
        """`log_group`, made here or by a library with its defaults, given the retention, the key and the policy."""
        log_group.retention_in_days = self.retention_days
        log_group.kms_key_id = self.encryption_key.key_arn
        log_group.apply_removal_policy(self.removal_policy)
        return log_group

    def log_group(self, scope: Construct, id_: str, *, name: str) -> logs.CfnLogGroup:
        """A log group named `name` (a string or a token), kept as these settings say."""
        return self.keep(logs.CfnLogGroup(scope, id_, log_group_name=name))


class EncryptedLogGroups(Construct):
    """Creates `names` as log groups kept as `logs` says (encrypted with its key, its retention).

    For log groups a service creates on first use (unencrypted, kept forever) when they do not
    exist: created here first, the service writes into them as they are. Exposes `log_groups` by name.
    """

    def __init__(self, scope: Construct, id_: str, *, names: Sequence[str], logs: LogSettings) -> None:
        super().__init__(scope, id_)
        errors = [f"log group names here start with '/', got {name!r}" for name in names if not name.startswith("/")]
        raise_if_any(self, errors or ([] if names else ["names must list at least one log group"]))
        self.log_groups = {name: logs.log_group(self, name.strip("/").replace("/", ""), name=name) for name in names}
