"""The reviewed tables of the deploy-readiness check: each requirement with the page AWS documents it on.

Reviewed like code: a line added here is a permission the check stops asking for, or a requirement it
starts checking. `EXCUSED` is the ONE table of handler permissions our properties never need.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tests.deploy_readiness.schemas import handler_permissions

Properties = Mapping[str, Any]

SCHEMA_DOC = "CloudFormation registry schema `{type}` (cfn-lint's copy), handlers.{handler}.permissions"
GET_STACK_OUTPUT_DOC = (
    "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-getstackoutput.html"
    " (RoleArn: defaults to the current stack's execution role, which needs cloudformation:DescribeStacks)"
)
SAGEMAKER_API_PERMISSIONS_DOC = "https://docs.aws.amazon.com/sagemaker/latest/dg/api-permissions-reference.html"
SAGEMAKER_VPC_DOC = (
    "https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html (CreateTrainingJob / CreateModel "
    "with VpcConfig: the role needs the ec2 network-interface permissions); "
    "https://docs.aws.amazon.com/sagemaker/latest/dg/train-vpc.html, host-vpc.html"
)
AUTOSCALING_DOC = (
    "https://docs.aws.amazon.com/autoscaling/application/userguide/security_iam_id-based-policy-examples.html "
    "(permissions required for API actions on target resources: RegisterScalableTarget checks the caller "
    "may act on the SageMaker variant, or inference component; target tracking policies create CloudWatch alarms "
    "as the caller)"
)
CUSTOM_RESOURCE_DOC = (
    "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/template-custom-resources-lambda.html "
    "(CloudFormation invokes the ServiceToken function with the stack's credentials)"
)
# What CloudFormation calls for a custom resource (no registry schema): its provider function (CUSTOM_RESOURCE_DOC).
CUSTOM_RESOURCE_ACTION = "lambda:InvokeFunction"
STEP_FUNCTIONS_SAGEMAKER_DOC = "https://docs.aws.amazon.com/step-functions/latest/dg/sagemaker-iam.html"
LOGS_KMS_DOC = (
    "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html (the key policy lets "
    "logs.<region>.amazonaws.com use the key for the log group, or CreateLogGroup/AssociateKmsKey fails)"
)
SNS_KMS_DOC = (
    "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html (an encrypted topic's key policy lets "
    "the publishing service, CloudWatch for alarms, call kms:Decrypt and kms:GenerateDataKey*)"
)
# What a service does with a customer key on the app's behalf: (service principal, actions).
LOGS_KEY_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:GenerateDataKey", "kms:DescribeKey")
ALARM_TOPIC_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")
BOUNDARY_DOC = (
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html (a resource-based policy "
    "that names the role ARN is limited by the role's permissions boundary)"
)
SAGEMAKER_LOG_GROUPS_DOC = (
    "https://docs.aws.amazon.com/sagemaker/latest/dg/logging-cloudwatch.html (SageMaker creates "
    "/aws/sagemaker/<Kind>Jobs and /aws/sagemaker/Endpoints/<name> itself when a job or endpoint first logs)"
)
RETAIN_DOC = (
    "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-deletionpolicy.html "
    "(Retain keeps the resource after the stack is deleted; a new stack creating the same name fails: AlreadyExists)"
)
MODEL_ARTIFACT_DOC = (
    "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ContainerDefinition.html (ModelDataUrl: the "
    "S3 object SageMaker downloads to start the endpoint; the shipped pin exists only once a model is trained)"
)
IMPORT_DOC = (
    "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/import-resources-automatically.html "
    "(a static custom name, DeletionPolicy Retain or RetainExceptOnCreate, in no other stack, an importable type)"
)
# Types we name that CloudFormation can import (resource-import-supported-resources.html).
IMPORTABLE_TYPES = ("AWS::Logs::LogGroup",)
BOUNDARY_EXISTS_DOC = (
    "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html (PermissionsBoundary: the ARN of "
    "an existing managed policy; CreateRole fails with NoSuchEntity otherwise)"
)


@dataclass(frozen=True)
class Excuse:
    """A handler permission CloudFormation calls only for properties `needed_when` finds set."""

    resource_type: str
    actions: tuple[str, ...]
    needed_when: Callable[[Properties], bool]
    reason: str


def _has(*names: str) -> Callable[[Properties], bool]:
    return lambda properties: any(name in properties for name in names)


def _anywhere(text: str) -> Callable[[Properties], bool]:
    return lambda properties: text in repr(properties)


EXCUSED: tuple[Excuse, ...] = (
    Excuse(
        "AWS::ApplicationAutoScaling::ScalableTarget",
        ("application-autoscaling:PutScheduledAction", "application-autoscaling:DeleteScheduledAction"),
        _has("ScheduledActions"),
        "scheduled actions only: the targets scale by target tracking policies",
    ),
    Excuse(
        "AWS::ApplicationAutoScaling::ScalableTarget",
        (
            "lambda:GetProvisionedConcurrencyConfig",
            "lambda:PutProvisionedConcurrencyConfig",
            "lambda:DeleteProvisionedConcurrencyConfig",
        ),
        lambda properties: properties.get("ServiceNamespace") == "lambda",
        "Lambda provisioned concurrency targets only; ours are SageMaker variants",
    ),
    Excuse(
        "AWS::ApplicationAutoScaling::ScalableTarget",
        ("iam:PassRole",),
        _has("RoleARN"),
        "a custom RoleARN only; without it Application Auto Scaling uses its service-linked role",
    ),
    Excuse(
        "AWS::ECR::Repository",
        ("kms:CreateGrant", "kms:DescribeKey", "kms:RetireGrant"),
        lambda properties: properties.get("EncryptionConfiguration", {}).get("EncryptionType", "AES256") != "AES256",
        "KMS encryption of the repository only (its key grants)",
    ),
    Excuse(
        "AWS::Events::Rule",
        ("iam:PassRole",),
        _anywhere("RoleArn"),
        "rules whose targets are given a role only (CDK's Step Functions .sync rules have none)",
    ),
    Excuse(
        "AWS::IAM::ManagedPolicy",
        ("iam:AttachGroupPolicy", "iam:DetachGroupPolicy"),
        _has("Groups"),
        "policies attached to groups only; the app has no groups",
    ),
    Excuse(
        "AWS::IAM::ManagedPolicy",
        ("iam:AttachUserPolicy", "iam:DetachUserPolicy"),
        _has("Users"),
        "policies attached to users only; the app has no users",
    ),
    Excuse(
        "AWS::IAM::Role",
        ("iam:DeleteRolePermissionsBoundary",),
        lambda properties: "PermissionsBoundary" not in properties,
        "removing a role's boundary only; every role keeps it (the execution policy denies this on purpose)",
    ),
    Excuse(
        "AWS::IAM::Role",
        ("iam:AttachRolePolicy",),
        _has("ManagedPolicyArns"),
        "ManagedPolicyArns only (AWS::IAM::ManagedPolicy resources attach themselves, checked on their type)",
    ),
    Excuse(
        "AWS::IAM::Role",
        ("iam:PutRolePolicy", "iam:GetRolePolicy"),
        _has("Policies"),
        "inline Policies only; the app's grants are separate policy resources",
    ),
    Excuse(
        "AWS::KMS::Key",
        ("kms:DisableKey", "kms:EnableKey"),
        _has("Enabled"),
        "the Enabled property only; the keys leave it at its default (enabled)",
    ),
    Excuse(
        "AWS::KMS::Key",
        ("kms:DisableKeyRotation",),
        lambda properties: properties.get("EnableKeyRotation") is False,
        "turning rotation off only; every key rotates",
    ),
    Excuse(
        "AWS::Lambda::Function",
        ("ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs"),
        _has("VpcConfig"),
        "functions in a VPC only; CDK's helper functions run outside one",
    ),
    Excuse(
        "AWS::Lambda::Function",
        ("elasticfilesystem:DescribeMountTargets", "s3files:ListMountTargets"),
        _has("FileSystemConfigs"),
        "file system mounts only",
    ),
    Excuse(
        "AWS::Lambda::Function",
        ("kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"),
        _has("KmsKeyArn"),
        "environment variables encrypted with a customer key only; the helper functions have none",
    ),
    Excuse(
        "AWS::Lambda::Function",
        (
            "lambda:GetCodeSigningConfig",
            "lambda:GetFunctionCodeSigningConfig",
            "lambda:PutFunctionCodeSigningConfig",
            "lambda:DeleteFunctionCodeSigningConfig",
        ),
        _has("CodeSigningConfigArn"),
        "code signing only",
    ),
    Excuse(
        "AWS::Lambda::Function",
        ("lambda:PutFunctionConcurrency", "lambda:DeleteFunctionConcurrency"),
        _has("ReservedConcurrentExecutions"),
        "reserved concurrency only",
    ),
    Excuse(
        "AWS::Lambda::Function",
        ("lambda:GetRuntimeManagementConfig", "lambda:PutRuntimeManagementConfig", "lambda:AssociateRuntimeAlias"),
        _has("RuntimeManagementConfig"),
        "a pinned runtime version only",
    ),
    Excuse(
        "AWS::Lambda::Function",
        ("lambda:GetFunctionRecursionConfig", "lambda:PutFunctionRecursionConfig"),
        _has("RecursiveLoop"),
        "the RecursiveLoop setting only",
    ),
    Excuse(
        "AWS::Lambda::Function",
        ("lambda:GetLayerVersion",),
        _has("Layers"),
        "layers only",
    ),
    Excuse(
        "AWS::Lambda::Function",
        ("lambda:PassCapacityProvider", "lambda:PutFunctionScalingConfig", "lambda:PublishVersion"),
        _has("CapacityProviderConfig", "FunctionScalingConfig", "PublishToLatestPublished"),
        "Lambda managed instances (capacity providers) only",
    ),
    Excuse(
        "AWS::Lambda::Function",
        ("s3:GetObjectVersion",),
        _anywhere("S3ObjectVersion"),
        "Code.S3ObjectVersion only; the assets are addressed by key",
    ),
    Excuse(
        "AWS::Logs::LogGroup",
        ("logs:PutDataProtectionPolicy", "logs:DeleteDataProtectionPolicy", "logs:GetDataProtectionPolicy"),
        _has("DataProtectionPolicy"),
        "data protection policies only",
    ),
    Excuse(
        "AWS::Logs::LogGroup",
        ("logs:PutIndexPolicy", "logs:DeleteIndexPolicy", "logs:DescribeIndexPolicies"),
        _has("FieldIndexPolicies"),
        "field index policies only",
    ),
    Excuse(
        "AWS::Logs::LogGroup",
        ("logs:PutResourcePolicy", "logs:DeleteResourcePolicy", "logs:DescribeResourcePolicies"),
        _has("ResourcePolicyDocument"),
        "a log group resource policy only",
    ),
    Excuse(
        "AWS::Logs::LogGroup",
        ("logs:CreateLogDelivery", "firehose:TagDeliveryStream"),
        _has("DeliveryConfiguration", "LogGroupClass"),
        "log deliveries configured on the log group only",
    ),
    Excuse(
        "AWS::Logs::LogGroup",
        ("logs:PutBearerTokenAuthentication",),
        _has("BearerTokenAuthenticationEnabled"),
        "bearer token ingestion only",
    ),
    Excuse(
        "AWS::Logs::LogGroup",
        ("logs:PutLogGroupDeletionProtection",),
        _has("DeletionProtectionEnabled"),
        "the DeletionProtectionEnabled property only",
    ),
    Excuse(
        "AWS::S3::Bucket",
        ("iam:PassRole", "s3:PutReplicationConfiguration"),
        _has("ReplicationConfiguration"),
        "replication only (its role is passed)",
    ),
    Excuse(
        "AWS::S3::Bucket",
        (
            "s3:CreateBucketMetadataTableConfiguration",
            "s3:UpdateBucketMetadataJournalTableConfiguration",
            "s3:UpdateBucketMetadataInventoryTableConfiguration",
            "s3:UpdateBucketMetadataAnnotationTableConfiguration",
            "s3:DeleteBucketMetadataTableConfiguration",
            "s3tables:*",
        ),
        _has("MetadataTableConfiguration", "MetadataConfiguration"),
        "S3 Metadata tables only",
    ),
    Excuse(
        "AWS::S3::Bucket",
        ("s3:DeleteBucketWebsite",),
        _has("WebsiteConfiguration"),
        "removing a website configuration only; no bucket has one",
    ),
    Excuse(
        "AWS::S3::Bucket",
        ("s3:PutAccelerateConfiguration",),
        _has("AccelerateConfiguration"),
        "transfer acceleration only",
    ),
    Excuse(
        "AWS::S3::Bucket",
        ("s3:PutAnalyticsConfiguration",),
        _has("AnalyticsConfigurations"),
        "analytics configurations only",
    ),
    Excuse(
        "AWS::S3::Bucket",
        ("s3:PutInventoryConfiguration",),
        _has("InventoryConfigurations"),
        "inventory configurations only",
    ),
    Excuse(
        "AWS::S3::Bucket",
        ("s3:PutIntelligentTieringConfiguration",),
        _has("IntelligentTieringConfigurations"),
        "Intelligent-Tiering archive configurations only",
    ),
    Excuse(
        "AWS::S3::Bucket",
        ("s3:PutObjectLockConfiguration",),
        _has("ObjectLockConfiguration", "ObjectLockEnabled"),
        "Object Lock only",
    ),
    Excuse(
        "AWS::SNS::Topic",
        ("iam:GetRole", "iam:PassRole"),
        _anywhere("RoleArn"),
        "delivery status logging roles only",
    ),
    Excuse(
        "AWS::SNS::Topic",
        ("sns:PutDataProtectionPolicy", "sns:GetDataProtectionPolicy"),
        _has("DataProtectionPolicy"),
        "message data protection only",
    ),
    Excuse(
        "AWS::SNS::Subscription",
        ("iam:GetRole", "iam:PassRole"),
        _has("SubscriptionRoleArn"),
        "Firehose subscriptions' role only; ours are e-mail subscriptions",
    ),
    Excuse(
        "AWS::SageMaker::EndpointConfig",
        ("iam:PassRole",),
        _anywhere("ExecutionRoleArn"),
        "endpoint configs with an ExecutionRoleArn (shadow or inference components) only",
    ),
    Excuse(
        "AWS::SageMaker::NotebookInstance",
        (
            "ec2:CreateNetworkInterface",
            "ec2:CreateNetworkInterfacePermission",
            "ec2:DeleteNetworkInterface",
            "ec2:DeleteNetworkInterfacePermission",
            "ec2:DescribeDhcpOptions",
        ),
        _has("SubnetId"),
        "a notebook in the account's own VPC only (SubnetId)",
    ),
    Excuse(
        "AWS::StepFunctions::StateMachine",
        ("s3:GetObject", "s3:GetObjectVersion"),
        _has("DefinitionS3Location"),
        "definitions read from S3 only; the definitions are inline",
    ),
    Excuse(
        "AWS::StepFunctions::StateMachine",
        ("kms:DescribeKey", "kms:GenerateDataKey"),
        _has("EncryptionConfiguration"),
        "state machines encrypted with a customer key only",
    ),
)


# Where the services pass a role: the `iam:PassedToService` each type's handler passes it to.
PASSED_TO_SERVICE = {
    "AWS::Lambda::Function": "lambda.amazonaws.com",
    "AWS::SageMaker::Model": "sagemaker.amazonaws.com",
    "AWS::SageMaker::NotebookInstance": "sagemaker.amazonaws.com",
    "AWS::SageMaker::EndpointConfig": "sagemaker.amazonaws.com",
    "AWS::StepFunctions::StateMachine": "states.amazonaws.com",
    "AWS::Events::Rule": "events.amazonaws.com",
    "AWS::Scheduler::Schedule": "scheduler.amazonaws.com",
}


def _sagemaker_vpc_actions() -> tuple[str, ...]:
    """The EC2 actions the CloudFormation registry schema of AWS::SageMaker::ProcessingJob (cfn-lint's copy) lists
    for creating one: the network interfaces SageMaker makes for a job placed in a VPC."""
    create = (handler_permissions("AWS::SageMaker::ProcessingJob") or {}).get("create", ())
    network = tuple(action for action in create if action.startswith("ec2:"))
    if not network:
        raise LookupError("the AWS::SageMaker::ProcessingJob schema lists no ec2 action: read SAGEMAKER_VPC_DOC again")
    return network


# The VPC permissions SageMaker documents for a role whose jobs or model run in the account's VPC (SAGEMAKER_VPC_DOC):
# read from AWS's published data, the same nine actions, not typed again beside execution_role.py's list.
SAGEMAKER_VPC_ACTIONS = _sagemaker_vpc_actions()

# What a state machine's role needs per SageMaker service integration it uses (Step Functions'
# "IAM policies for Amazon SageMaker AI"): the call itself, and for `.sync` the describe/stop calls
# and the EventBridge rule Step Functions manages to hear of the job's end.
STEP_FUNCTIONS_SAGEMAKER = {
    "createTrainingJob": ("sagemaker:CreateTrainingJob", "TrainingJob"),
    "createTransformJob": ("sagemaker:CreateTransformJob", "TransformJob"),
    "createProcessingJob": ("sagemaker:CreateProcessingJob", "ProcessingJob"),
    "createHyperParameterTuningJob": ("sagemaker:CreateHyperParameterTuningJob", "HyperParameterTuningJob"),
    "createModel": ("sagemaker:CreateModel", None),
}


def step_functions_sagemaker_needs(api: str, *, sync: bool) -> list[str]:
    """What the role of a state machine calling SageMaker integration `api` (`.sync` or not) needs: the call, tagging
    what it creates (SAGEMAKER_API_PERMISSIONS_DOC), and with `.sync` watching the job to its end."""
    action, job = STEP_FUNCTIONS_SAGEMAKER[api]
    needed = [action, "sagemaker:AddTags"]
    if sync and job:
        needed += [
            f"sagemaker:Describe{job}",
            f"sagemaker:Stop{job}",
            "events:PutTargets",
            "events:PutRule",
            "events:DescribeRule",
        ]
    return needed


# An AWS SDK integration (`arn:aws:states:::aws-sdk:<service>:<apiAction>`) calls the API with the state
# machine's role: it needs the API's own IAM action, `<service>:<ApiAction>`.
STEP_FUNCTIONS_SDK_DOC = (
    "https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html (the state machine's "
    "role needs the IAM permission of the API action it calls)"
)
# The services whose SDK integrations are checked: the drift monitor's s3:listObjectsV2 is allowed (as
# s3:ListBucket) only under an s3:prefix condition the run alone knows; its construct tests check that one.
SDK_SERVICES_CHECKED = ("sagemaker",)
# ... and single APIs of other services, by their IAM action.
SDK_ACTIONS_CHECKED = ("s3:PutObject",)
# What an SDK integration's API needs beyond its own action.
SDK_API_NEEDS: Mapping[str, tuple[tuple[str, ...], str]] = {
    "s3:PutObject": (
        ("kms:GenerateDataKey",),
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html (an object encrypted with "
        "an AWS KMS key: the uploader needs kms:GenerateDataKey on the key; the buckets here are SSE-KMS)",
    ),
    "sagemaker:DescribeModelPackage": (
        ("kms:Decrypt",),
        "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeModelPackage.html (a version "
        "created with a KMS key: DescribeModelPackage calls kms:Decrypt)",
    ),
}
# The condition keys an SDK integration's request sets for its API's own action, by the request's field: the
# check evaluates a condition on one against the value the task sends. A field the task fills in at run time
# (`<field>.$`) leaves the key out, which a condition on it refuses: reported, never guessed.
SDK_REQUEST_CONDITION_KEYS: Mapping[str, Mapping[str, str]] = {
    # https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemaker.html (CreateModelPackage:
    # sagemaker:ModelApprovalStatus, "the model approval status with the model-package in the request")
    "sagemaker:CreateModelPackage": {"ModelApprovalStatus": "sagemaker:ModelApprovalStatus"},
}
# What a request of an SDK integration needs beyond its action, by the request's field name.
SDK_REQUEST_NEEDS: Mapping[str, tuple[tuple[str, ...], str]] = {
    "SecurityConfig": (
        ("kms:GenerateDataKey", "kms:Decrypt", "kms:DescribeKey"),
        "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ModelPackageSecurityConfig.html (the key "
        "encrypts, decrypts and re-encrypts the model package's information as the caller; DescribeModelPackage "
        "then calls kms:Decrypt)",
    ),
    "Tags": (("sagemaker:AddTags",), SAGEMAKER_API_PERMISSIONS_DOC),
}

# What a job's role needs for a feature its CreateXJob request sets (by the request's field name).
JOB_FEATURE_NEEDS: Mapping[str, tuple[tuple[str, ...], str]] = {
    "CheckpointConfig": (
        ("s3:GetObject", "s3:PutObject", "s3:ListBucket"),
        "https://docs.aws.amazon.com/sagemaker/latest/dg/model-checkpoints.html (managed spot training: SageMaker "
        "copies checkpoints to and from CheckpointConfig.S3Uri with the job's role)",
    ),
    "KmsKeyId": (
        ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"),
        "https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html (OutputDataConfig.KmsKeyId: the "
        "role encrypts the job's output with the key)",
    ),
    "VpcConfig": (SAGEMAKER_VPC_ACTIONS, SAGEMAKER_VPC_DOC),
}

# What an asynchronous endpoint's model role does while serving: SageMaker reads each request's body from S3, writes
# its result or failure to the configured paths (encrypting with the KmsKeyId) and publishes to the notification
# topics, as the role; publishing to an encrypted topic needs the topic key's data keys too.
ASYNC_INFERENCE_DOC = (
    "https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference-create-endpoint-prerequisites.html (the role "
    "reads the input location and writes the output and failure paths); async-inference-check-predictions.html "
    "(sns:Publish for the notification topics); https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html "
    "(a publisher to an encrypted topic needs kms:GenerateDataKey and kms:Decrypt on its key)"
)
ASYNC_OBJECT_READ = ("s3:GetObject",)
ASYNC_OBJECT_WRITE = ("s3:PutObject",)
ASYNC_KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
ASYNC_TOPIC_ACTIONS = ("sns:Publish",)

# What CDK's custom-resource handlers call, with their source, and how their role gets it.
CUSTOM_RESOURCE_CALLS: Mapping[str, tuple[tuple[str, ...], str]] = {
    "Custom::S3AutoDeleteObjects": (
        (
            "s3:GetBucketTagging",
            "s3:ListBucketVersions",
            "s3:DeleteObject",
            "s3:DeleteObjectVersion",
            "s3:PutBucketPolicy",
        ),
        "aws-cdk packages/@aws-cdk/custom-resource-handlers/lib/aws-s3/auto-delete-objects-handler/index.ts "
        "(getBucketTagging, listObjectVersions, deleteObjects, putBucketPolicy on the bucket named by BucketName)",
    ),
    "Custom::CDKECRDeployment": (
        (
            "ecr:GetAuthorizationToken",
            "ecr:BatchGetImage",
            "ecr:GetDownloadUrlForLayer",
            "ecr:BatchCheckLayerAvailability",
            "ecr:InitiateLayerUpload",
            "ecr:UploadLayerPart",
            "ecr:CompleteLayerUpload",
            "ecr:PutImage",
        ),
        "cdklabs/cdk-ecr-deployment lambda/ (copies SrcImage to DestImage through the registry API)",
    ),
}
