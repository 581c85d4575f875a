"""An optional SageMaker notebook instance for exploring data and models, private and stopped when idle."""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from sagemaker_constructs.execution_role import log_group_arn
from sagemaker_constructs.key_statements import attach_encrypted_volumes_statement, use_key_statement
from sagemaker_constructs.nag import acknowledge
from sagemaker_constructs.shared_iam import list_buckets_statement, service_role, write_logs_statements
from sagemaker_constructs.validation import raise_if_any

# Amazon Linux 2 with JupyterLab 4: the current notebook platform.
PLATFORM_IDENTIFIER = "notebook-al2-v3"
MIN_IDLE_MINUTES = 5
_SUBNET = re.compile(r"subnet-[0-9a-f]{8,17}")
_SECURITY_GROUP = re.compile(r"sg-[0-9a-f]{8,17}")

# Where SageMaker writes the notebook's Jupyter and lifecycle-configuration logs (streams `<name>/...`).
NOTEBOOK_LOG_GROUP = "/aws/sagemaker/NotebookInstances"
# The notebook's own prefix of the artifacts bucket: the only place it may write.
NOTEBOOK_ARTIFACTS_PREFIX = "notebook/"
IDLE_STOP_SCRIPT = Path(__file__).resolve().parent / "assets" / "notebook_idle_stop.py"
# CreateNotebookInstanceLifecycleConfig: each script's base64 content is at most 16384 characters.
MAX_LIFECYCLE_SCRIPT_CHARACTERS = 16384

# Runs at every start, as root (even with root access disabled for users): installs the idle check
# and runs it from cron every 5 minutes. The check travels inside this script: the instance has no
# internet access to download it.
_ON_START = """#!/bin/bash
set -euo pipefail
cat > /usr/local/bin/stop-when-idle.py <<'PY'
__SCRIPT__PY
CHECK="/usr/bin/python3 /usr/local/bin/stop-when-idle.py __IDLE_MINUTES__"
echo "*/5 * * * * root $CHECK >> /var/log/stop-when-idle.log 2>&1" > /etc/cron.d/stop-when-idle
"""


def on_start_script(idle_minutes: int) -> str:
    """The lifecycle configuration's on-start script, stopping the instance after `idle_minutes`."""
    return _ON_START.replace("__SCRIPT__", IDLE_STOP_SCRIPT.read_text()).replace("__IDLE_MINUTES__", str(idle_minutes))


class NotebookRole(Construct):
    """The exploration notebook's own role: read the data, write only its own prefix; never the execution role.

    May list and read `data_bucket` and `artifacts_bucket`, write only under `notebook/` of
    `artifacts_bucket`, use `encryption_key` for those objects and the notebook's volume, and write
    the log streams of the notebook `<name_prefix>-notebook`. It may not start the pipeline, create
    jobs or pass any role: runs go through `sagemaker_ops` with the developer's own credentials, so
    code in a notebook cannot spend, overwrite or deploy what the pipeline owns (docs/security.md).

    Lives in the stack of the buckets (the platform), so its policy names them directly.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name_prefix: str,
        data_bucket: s3.IBucket,
        artifacts_bucket: s3.IBucket,
        encryption_key: kms.IKey,
    ) -> None:
        super().__init__(scope, id_)
        self.notebook_instance_name = f"{name_prefix}-notebook"
        self.role = service_role(
            self,
            "Role",
            service="sagemaker.amazonaws.com",
            description=f"The {self.notebook_instance_name} exploration notebook: read data, write its own prefix",
        )
        self.policy = self._create_policy(data_bucket, artifacts_bucket, encryption_key)

    def _create_policy(self, data: s3.IBucket, artifacts: s3.IBucket, key: kms.IKey) -> iam.ManagedPolicy:
        logs = log_group_arn(NOTEBOOK_LOG_GROUP)
        # Alike in shape to the drift monitor's and execution role's policies (duplicates pairs them): other statements.
        policy = iam.ManagedPolicy(
            self,
            "Policy",
            roles=[self.role],
            description=f"What the {self.notebook_instance_name} notebook may do: read data, write its own prefix",
            statements=[
                list_buckets_statement(data, artifacts),
                iam.PolicyStatement(
                    sid="ReadDataAndArtifacts",
                    actions=["s3:GetObject"],
                    resources=[data.arn_for_objects("*"), artifacts.arn_for_objects("*")],
                ),
                iam.PolicyStatement(
                    sid="WriteOwnPrefix",
                    actions=["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                    resources=[artifacts.arn_for_objects(f"{NOTEBOOK_ARTIFACTS_PREFIX}*")],
                ),
                use_key_statement(key),
                attach_encrypted_volumes_statement(key, sid="AttachEncryptedVolume"),
                *write_logs_statements(
                    [logs],
                    [f"{logs}:log-stream:{self.notebook_instance_name}/*"],
                    create_sid="CreateLogGroup",
                    write_sid="WriteOwnLogs",
                ),
            ],
        )
        stack = cdk.Stack.of(self)
        for bucket, what in ((data, "the data"), (artifacts, "the models, scores and reports")):
            logical_id = stack.resolve(bucket.bucket_arn)["Fn::GetAtt"][0]
            acknowledge(
                policy,
                f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>/*]",
                f"Reading {what} of this environment is what the notebook is for; it writes only under "
                f"{NOTEBOOK_ARTIFACTS_PREFIX}.",
            )
        artifacts_id = stack.resolve(artifacts.bucket_arn)["Fn::GetAtt"][0]
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::<{artifacts_id}.Arn>/{NOTEBOOK_ARTIFACTS_PREFIX}*]",
            "The notebook's own prefix of the artifacts bucket; object names are chosen in the notebook.",
        )
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:"
            f"{NOTEBOOK_LOG_GROUP}:log-stream:{self.notebook_instance_name}/*]",
            "SageMaker names the notebook's log streams <notebook name>/jupyter.log and the like; limited to "
            "this notebook's name.",
        )
        return policy


class ExplorationNotebook(Construct):
    """A SageMaker notebook instance with a role of its own, in a VPC, stopped when idle.

    - Runs as `role` (a `NotebookRole`), not the execution role; the only addition here is stopping
      itself (`stop_policy`).
    - Named by the role (`<name_prefix>-notebook`), so its log streams can be told from another
      environment's.
    - In `subnet_id` with `security_group_ids` and no direct internet access: it reaches S3, ECR and
      the SageMaker API through the VPC's endpoints or NAT.
    - Root access disabled, IMDSv2 only, the ML storage volume encrypted with `encryption_key`.
    - A lifecycle configuration (`lifecycle_config`) stops it after `idle` without kernel activity.

    Creates `notebook` and exposes `notebook_name`.

    :param instance_type: @default ml.t3.medium.
    :param volume_size_gb: 5-16384. @default 20.
    :param idle: at least 5 minutes. @default 1 hour.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        role: NotebookRole,
        encryption_key: kms.IKey,
        subnet_id: str,
        security_group_ids: Sequence[str],
        instance_type: str = "ml.t3.medium",
        volume_size_gb: int = 20,
        idle: cdk.Duration = cdk.Duration.hours(1),
    ) -> None:
        super().__init__(scope, id_)
        idle_minutes = idle.to_minutes()
        errors: list[str] = []
        if idle_minutes < MIN_IDLE_MINUTES:
            errors.append(f"idle must be at least {MIN_IDLE_MINUTES} minutes, got {idle_minutes:g}")
        if not 5 <= volume_size_gb <= 16384:
            errors.append(f"volume_size_gb must be 5-16384, got {volume_size_gb}")
        if not instance_type.startswith("ml."):
            errors.append(f"instance_type must be a SageMaker instance type (ml.*), got {instance_type!r}")
        if not _SUBNET.fullmatch(subnet_id):
            errors.append(f"subnet_id must be a subnet id (subnet-...), got {subnet_id!r}")
        if not security_group_ids or not all(_SECURITY_GROUP.fullmatch(g) for g in security_group_ids):
            errors.append(f"security_group_ids must list security group ids (sg-...), got {list(security_group_ids)}")
        content = base64.b64encode(on_start_script(int(idle_minutes)).encode()).decode()
        if len(content) > MAX_LIFECYCLE_SCRIPT_CHARACTERS:
            errors.append(
                f"the on-start script ({IDLE_STOP_SCRIPT.name}) is {len(content)} base64 characters; "
                f"SageMaker accepts at most {MAX_LIFECYCLE_SCRIPT_CHARACTERS}"
            )
        raise_if_any(self, errors)

        self.notebook_instance_name = role.notebook_instance_name
        self.role = role.role
        self.lifecycle_config = sagemaker.CfnNotebookInstanceLifecycleConfig(
            self,
            "StopWhenIdle",
            on_start=[
                sagemaker.CfnNotebookInstanceLifecycleConfig.NotebookInstanceLifecycleHookProperty(content=content)
            ],
        )
        self.notebook = sagemaker.CfnNotebookInstance(
            self,
            "Notebook",
            notebook_instance_name=self.notebook_instance_name,
            instance_type=instance_type,
            role_arn=self.role.role_arn,
            kms_key_id=encryption_key.key_arn,
            volume_size_in_gb=volume_size_gb,
            root_access="Disabled",
            direct_internet_access="Disabled",
            subnet_id=subnet_id,
            security_group_ids=list(security_group_ids),
            platform_identifier=PLATFORM_IDENTIFIER,
            instance_metadata_service_configuration=sagemaker.CfnNotebookInstance.InstanceMetadataServiceConfigurationProperty(
                minimum_instance_metadata_service_version="2"
            ),
            lifecycle_config_name=self.lifecycle_config.attr_notebook_instance_lifecycle_config_name,
        )
        self.notebook.node.add_dependency(role)
        # Alike in shape to the execution role's policy (duplicates pairs them): one statement, to stop itself.
        self.stop_policy = iam.ManagedPolicy(
            self,
            "StopItself",
            roles=[self.role],
            description="Lets the exploration notebook stop itself when idle (its lifecycle configuration)",
            statements=[
                iam.PolicyStatement(
                    sid="StopWhenIdle",
                    actions=["sagemaker:StopNotebookInstance", "sagemaker:DescribeNotebookInstance"],
                    # Ref of a notebook instance is its ARN.
                    resources=[self.notebook.ref],
                )
            ],
        )

    @property
    def notebook_name(self) -> str:
        """The name CloudFormation generated for the notebook instance."""
        return self.notebook.attr_notebook_instance_name
