"""`approve`, `reject` and `promote --package`: the versions of the environment's model package group.

A version's approval is a person's decision, recorded by SageMaker (status, ApprovalDescription, who and
when: LastModifiedBy / LastModifiedTime). `promote --package` prints the pin of an approved version; the
Model is created from that version, and `check-pin` (run by `make deploy`) refuses to deploy one that is not (or no
longer) approved, which AWS documents no refusal of.
What the pipeline recorded with the version is read back as its lineage (`sagemaker_ops.lineage`).
"""

from __future__ import annotations

import re
from typing import Any

from config import EnvironmentConfig, EnvironmentName, load_config
from config.aws_catalog import partition_of
from config.contract import (
    APPROVED,
    PENDING_APPROVAL,
    PROMOTED_FROM,
    REJECTED,
    approved_image_tag,
    environment_prefix,
)
from config.endpoint import VERSION_NUMBER, PackageVersion
from sagemaker_ops.arguments import UsageError
from sagemaker_ops.commands import Context
from sagemaker_ops.deployment import Deployment
from sagemaker_ops.lineage import decision, lineage
from sagemaker_ops.progress import CheckFailedError

_VERSION = re.compile(VERSION_NUMBER)


def package_pin(environment: str, version: PackageVersion) -> str:
    """The TOML that points `environment`'s endpoint at the package version."""
    return f'[environments.{environment}.endpoint]\nmodel_package = "{version.name}"'


def approve(context: Context) -> dict[str, Any]:
    """Approve a version: from now on a Model may be created from it."""
    return _decide(context, APPROVED)


def reject(context: Context) -> dict[str, Any]:
    """Reject a version, with the reason: no Model is created from it (a deployed one keeps running)."""
    return _decide(context, REJECTED)


def promote_package(context: Context) -> dict[str, Any]:
    """The pin of an approved version of this environment's group, and what produced it.

    In prod, a version of staging's group is instead registered in prod's group (awaiting prod's approver).
    """
    deployment = context.deployment
    environment = deployment.settings.name.value
    source = _staging_version(context)
    if source is not None:
        return register_from_staging(context, source)
    described = _describe(deployment, context.args.package)
    result = {"package": described["ModelPackageArn"], **lineage(described, deployment.client("s3"))}
    if described.get("ModelApprovalStatus") != APPROVED:
        raise CheckFailedError(
            f"version {result['version']} is {described.get('ModelApprovalStatus')}, not Approved: no Model can be "
            f"created from it; approve it first: python -m sagemaker_ops approve --env {environment} "
            f"--package {result['version']}",
            result,
        )
    version = PackageVersion(described["ModelPackageGroupName"], int(described["ModelPackageVersion"]))
    stage = deployment.settings.name.stage_id
    result |= {
        "pin": package_pin(environment, version),
        "next_step": f"put the pin in config/environments.toml in a pull request; after review: npx cdk deploy "
        f"'{stage}/*'",
    }
    return result


def check_pin(context: Context) -> dict[str, Any]:
    """Before a deploy: the version `endpoint.model_package` pins is Approved, else exit 1 and no deploy.

    AWS documents approval as the gate of deployment (CreateModelPackage's ModelApprovalStatus: "must be set to
    Approved to deploy the model"), but CreateModel's API reference names no error for a ModelPackageName that is
    not: nothing shows that AWS refuses it, so the deploy refuses it here, before `cdk deploy` (`make deploy`).
    The version is the one the Inference stack names: this group's, in the environment's account and region.
    """
    deployment = context.deployment
    settings = deployment.settings
    package = settings.endpoint.package
    if package is None:
        return {"package": None, "checked": "no model package version pinned: nothing to check"}
    arn = package.arn(**_place(deployment, settings))
    described = deployment.client("sagemaker").describe_model_package(ModelPackageName=arn)
    result = {"package": arn, **decision(described)}
    if described.get("ModelApprovalStatus") != APPROVED:
        environment = settings.name.value
        raise CheckFailedError(
            f"endpoint.model_package pins version {package.name}, which is {described.get('ModelApprovalStatus')}, "
            f"not Approved: no deploy of it. Approve it (python -m sagemaker_ops approve --env {environment} "
            f"--package {package.version} --reason ...) or pin an approved version",
            result,
        )
    return result


def register_from_staging(context: Context, source: str) -> dict[str, Any]:
    """Register staging's approved version `source` (its ARN) in prod's group, awaiting prod's approval.

    Everything runs with prod's credentials: staging's version is read (where staging has an account of its own,
    its group's, bucket's and key's policies let prod's account read it: `ModelRegistry.share_with`), its artifact
    and its metrics' document are copied into prod's artifacts bucket (prod's roles read only that, under prod's
    key), and the copy is registered in prod's own group. It names the image by the same tag in prod's repository
    (the same build: the tag is the image asset's content hash), which must be there (deploy Prod-Platform from the
    same commit first): no image crosses accounts. Its lineage comes along, plus `promotion/from`.
    """
    deployment = context.deployment
    sagemaker = deployment.client("sagemaker")
    described = sagemaker.describe_model_package(ModelPackageName=source)
    s3 = deployment.client("s3")
    result: dict[str, Any] = {"from": source, **lineage(described, s3)}
    if described.get("ModelApprovalStatus") != APPROVED:
        raise CheckFailedError(
            f"staging's version {result['version']} is not Approved: prod takes approved ones", result
        )
    platform = deployment.stack("Platform")
    container = described["InferenceSpecification"]["Containers"][0]
    tag = container["Image"].rpartition(":")[2]
    image = f"{platform.output('ImageUri').rpartition(':')[0]}:{tag}"
    match = _ECR_IMAGE.fullmatch(image)
    where = {"registryId": match["registry"], "repositoryName": match["repository"]} if match else {}
    if not match or not deployment.client("ecr").batch_get_image(**where, imageIds=[{"imageTag": tag}])["images"]:
        raise CheckFailedError(
            f"prod's repository has no image {image}: deploy Prod-Platform from the commit that built it first", result
        )
    bucket, folder = platform.output("ArtifactsBucketName"), f"promoted/{result['version']}"
    # Prod's roles read prod's bucket only: the artifact and the metrics' document come along.
    copies = {"ModelDataUrl": container["ModelDataUrl"], "Statistics": result["metrics_document"]}
    copied = {}
    for what, uri in copies.items():
        if uri:
            source_bucket, _, source_key = uri.removeprefix("s3://").partition("/")
            key = f"{folder}/{source_key.rpartition('/')[2]}"
            s3.copy({"Bucket": source_bucket, "Key": source_key}, bucket, key)
            copied[what] = f"s3://{bucket}/{key}"
    statistics = {**described.get("ModelMetrics", {}).get("ModelQuality", {}).get("Statistics", {})}
    statistics["S3Uri"] = copied.get("Statistics")
    registered = sagemaker.create_model_package(
        ModelPackageGroupName=platform.output("ModelPackageGroupName"),
        ModelPackageDescription=f"{described.get('ModelPackageDescription', '')}; promoted from {result['version']}",
        InferenceSpecification={**described["InferenceSpecification"], "Containers": [
            {"Image": image, "ModelDataUrl": copied["ModelDataUrl"]}]},
        ModelApprovalStatus=PENDING_APPROVAL,
        CustomerMetadataProperties={**described.get("CustomerMetadataProperties", {}), PROMOTED_FROM: source},
        **({"MetadataProperties": described["MetadataProperties"]} if "MetadataProperties" in described else {}),
        **({"ModelMetrics": {"ModelQuality": {"Statistics": statistics}}} if "Statistics" in copied else {}),
        SecurityConfig={"KmsKeyId": platform.output("EncryptionKeyArn")},
    )  # fmt: skip
    arn = registered["ModelPackageArn"]
    number = arn.rsplit("/", 1)[-1]
    return result | {
        "registered": arn,
        "next_step": f"prod's approver decides: python -m sagemaker_ops approve --env prod --package {number} "
        f"--reason ...; then python -m sagemaker_ops promote --env prod --package {number}",
    }


def _staging_version(context: Context) -> str | None:
    """In prod, the ARN of the staging version `--package` names (by ARN or `<staging group>/<n>`); else None."""
    deployment, given = context.deployment, context.args.package
    if deployment.settings.name is not EnvironmentName.PROD or _VERSION.fullmatch(given):
        return None
    wanted = PackageVersion.parse(given)
    config = load_config(context.args.config)
    staging = environment_prefix(config.app_name, EnvironmentName.STAGING.value)
    if wanted.group != staging:
        return None
    place = _place(deployment, config.environment(EnvironmentName.STAGING.value))
    _refuse_elsewhere(given, wanted.differences(**place), "staging's group as configured")
    # By ARN, never listed by name: a name resolves in the credentials' account, prod's (staging's group is
    # another account's where prod has its own; its resource policy lets prod describe versions by ARN).
    return wanted.arn(**place)


def _place(deployment: Deployment, environment: EnvironmentConfig) -> dict[str, str]:
    """Where `environment`'s model package group is: its partition, region and account. No account configured: the
    environment is deployed into the credentials' account (one account for all)."""
    account = environment.account or deployment.client("sts").get_caller_identity()["Account"]
    return {"partition": partition_of(environment.region), "region": environment.region, "account": account}


def _decide(context: Context, status: str) -> dict[str, Any]:
    args, deployment = context.args, context.deployment
    described = _describe(deployment, args.package)
    arn = described["ModelPackageArn"]
    kept = None
    if status == APPROVED:
        # First: a version whose image is gone cannot be served, and an approved one must keep its image.
        kept = _keep_image(deployment, described)
    request: dict[str, Any] = {"ModelPackageArn": arn, "ModelApprovalStatus": status}
    if args.reason:
        request["ApprovalDescription"] = args.reason
    deployment.client("sagemaker").update_model_package(**request)
    after = deployment.client("sagemaker").describe_model_package(ModelPackageName=arn)
    lineage_after = lineage(after, deployment.client("s3"))
    result = {"package": arn, "previous_approval": described.get("ModelApprovalStatus"), **lineage_after}
    if kept is not None:
        result["image_kept_as"] = kept
        result["next_step"] = (
            f"python -m sagemaker_ops promote --env {deployment.settings.name.value} --package {result['version']}"
        )
    return result


_ECR_IMAGE = re.compile(r"(?P<registry>[0-9]{12})\.dkr\.ecr\.[a-z0-9-]+\.[a-z0-9.]+/(?P<repository>[^:@]+):(?P<tag>.+)")


def _keep_image(deployment: Deployment, described: dict[str, Any]) -> str:
    """Tag the version's image `approved-<group>-<version>`, which the repository's lifecycle keeps."""
    image = described["InferenceSpecification"]["Containers"][0]["Image"]
    match = _ECR_IMAGE.fullmatch(image)
    tag = approved_image_tag(described["ModelPackageGroupName"], int(described["ModelPackageVersion"]))
    if match is None:
        raise CheckFailedError(f"the version's image {image} is not an ECR image by tag: it cannot be kept", {})
    ecr = deployment.client("ecr")
    where = {"registryId": match["registry"], "repositoryName": match["repository"]}
    found = ecr.batch_get_image(**where, imageIds=[{"imageTag": match["tag"]}])["images"]
    if not found:
        raise CheckFailedError(
            f"the version's image {image} is no longer in its repository: it cannot be served, so it is not approved",
            {"package": described["ModelPackageArn"]},
        )
    tagged = ecr.batch_get_image(**where, imageIds=[{"imageTag": tag}])["images"]
    if not tagged:  # approving again: the tag is there already (tags are immutable)
        ecr.put_image(**where, imageManifest=found[0]["imageManifest"], imageTag=tag)
    return tag


def _describe(deployment: Deployment, given: str) -> dict[str, Any]:
    """The version `given` names (a version number, `<group>/<version>` or an ARN) in this environment's group."""
    group = deployment.stack("Platform").output("ModelPackageGroupName")
    if _VERSION.fullmatch(given):
        wanted = PackageVersion(group, int(given))
    else:
        try:
            wanted = PackageVersion.parse(given)
        except ValueError:
            raise UsageError(f"argument --package: not a version, <group>/<version> or ARN: {given!r}") from None
    if wanted.group != group:
        raise UsageError(
            f"argument --package: {given!r} is a version of {wanted.group!r}; environment "
            f"{deployment.settings.name.value!r} approves and serves versions of its own group {group!r}"
        )
    # An ARN acts on the version it names or on none: never on this group's version of the same number elsewhere.
    where = f"the group of environment {deployment.settings.name.value!r}"
    region = deployment.settings.region
    differences = wanted.differences(partition=partition_of(region), region=region, account=deployment.settings.account)
    _refuse_elsewhere(given, differences, where)
    arn = _version_arn(deployment, group, wanted.version)
    if wanted.region is not None:  # the account the group is in, where the configuration leaves it out
        here = PackageVersion.parse(arn)
        differences = wanted.differences(partition=str(here.partition), region=str(here.region), account=here.account)
        _refuse_elsewhere(given, differences, where)
    described: dict[str, Any] = deployment.client("sagemaker").describe_model_package(ModelPackageName=arn)
    return described


def _refuse_elsewhere(given: str, differences: list[str], where: str) -> None:
    """A usage error when the ARN `given` names a place other than `where`'s (its `differences`)."""
    if differences:
        raise UsageError(f"argument --package: {given!r} is not a version of {where}: its {', '.join(differences)}")


def _version_arn(deployment: Deployment, group: str, version: int) -> str:
    """The ARN of `group`'s version `version` (a versioned package is described by ARN only)."""
    paginator = deployment.client("sagemaker").get_paginator("list_model_packages")
    for page in paginator.paginate(ModelPackageGroupName=group):
        for summary in page["ModelPackageSummaryList"]:
            if summary.get("ModelPackageVersion") == version:
                return str(summary["ModelPackageArn"])
    raise UsageError(f"argument --package: group {group!r} has no version {version}")
