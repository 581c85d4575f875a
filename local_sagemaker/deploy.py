"""Deploy a synthesized cloud assembly into the emulator as `cdk deploy --method=direct` would.

Per stack, in dependency order: check the bootstrap version, upload the stack's file assets to
the bootstrap bucket, upload the adapted copy of the template (local_sagemaker/adaptations.py),
CreateStack or UpdateStack with its URL, wait, then create what moto skipped through boto3.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from local_sagemaker.adaptations import AdaptedTemplate, adapt, physical_alarm_name
from local_sagemaker.server import ACCOUNT, REGION, MotoServer

BOOTSTRAP_VERSION = 30  # what `cdk bootstrap` of the pinned CLI writes to SSM
STACK_WAIT_SECONDS = 60.0
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]


@dataclass(frozen=True)
class StackArtifact:
    """One stack of the cloud assembly, as the manifest describes it."""

    artifact_id: str
    stack_name: str
    template_file: Path
    template_url: str
    assets_file: Path
    dependencies: tuple[str, ...]
    termination_protection: bool
    bootstrap_parameter: str
    bootstrap_version: int

    def template(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.template_file.read_text())
        return loaded


@dataclass
class DeployedStack:
    """A stack as the emulator created it: the adapted copy, and what boto3 created for it."""

    artifact: StackArtifact
    adapted: AdaptedTemplate
    outputs: dict[str, str]
    physical_ids: dict[str, str]
    created_by_boto3: dict[str, str] = field(default_factory=dict)


def stack_artifacts(outdir: Path, stage: str) -> list[StackArtifact]:
    """The stacks of Stage `stage` (`Dev`, `Staging`, `Prod`) in `outdir`, dependencies first."""
    directory = outdir / f"assembly-{stage}"
    manifest = json.loads((directory / "manifest.json").read_text())["artifacts"]
    stacks: dict[str, StackArtifact] = {}
    for artifact_id, artifact in manifest.items():
        if artifact["type"] != "aws:cloudformation:stack":
            continue
        properties = artifact["properties"]
        assets = next(d for d in artifact.get("dependencies", []) if manifest[d]["type"] == "cdk:asset-manifest")
        bucket_key = properties["stackTemplateAssetObjectUrl"].removeprefix("s3://")
        stacks[artifact_id] = StackArtifact(
            artifact_id=artifact_id,
            stack_name=properties["stackName"],
            template_file=directory / properties["templateFile"],
            template_url=f"https://s3.{REGION}.amazonaws.com/{bucket_key}",
            assets_file=directory / manifest[assets]["properties"]["file"],
            dependencies=tuple(d for d in artifact.get("dependencies", []) if d != assets),
            termination_protection=bool(properties.get("terminationProtection")),
            bootstrap_parameter=properties["bootstrapStackVersionSsmParameter"],
            bootstrap_version=properties["requiresBootstrapStackVersion"],
        )
    ordered: list[StackArtifact] = []
    while len(ordered) < len(stacks):
        ready = [
            s
            for s in stacks.values()
            if s not in ordered and all(d in {o.artifact_id for o in ordered} for d in s.dependencies)
        ]
        if not ready:
            raise ValueError(f"{stage}: circular stack dependencies")
        ordered.extend(sorted(ready, key=lambda s: s.stack_name))
    return ordered


def bootstrap(server: MotoServer, artifacts: list[StackArtifact]) -> None:
    """What `cdk bootstrap` leaves behind that a deploy uses: the version parameter, the asset bucket."""
    ssm, s3 = server.client("ssm"), server.client("s3")
    for artifact in artifacts:
        ssm.put_parameter(
            Name=artifact.bootstrap_parameter, Value=str(BOOTSTRAP_VERSION), Type="String", Overwrite=True
        )
        for bucket in {d["bucketName"] for d in _file_destinations(artifact)}:
            s3.create_bucket(Bucket=bucket)


def deploy(
    server: MotoServer, artifact: StackArtifact, outputs_of: dict[str, dict[str, str]], *, template_suffix: str = ""
) -> DeployedStack:
    """Create or update `artifact`'s stack from its adapted copy; `outputs_of` holds deployed stacks' outputs."""
    _check_bootstrap_version(server, artifact)
    _publish_file_assets(server, artifact)
    adapted = adapt(
        artifact.template(),
        stack_name=artifact.stack_name,
        region=REGION,
        account=ACCOUNT,
        stack_outputs=lambda name: outputs_of[name],
    )
    bucket, _, key = artifact.template_url.removeprefix(f"https://s3.{REGION}.amazonaws.com/").partition("/")
    emulator_key = key.replace(".json", f".emulator{template_suffix}.json")
    server.client("s3").put_object(Bucket=bucket, Key=emulator_key, Body=json.dumps(adapted.template).encode())
    url = f"https://s3.{REGION}.amazonaws.com/{bucket}/{emulator_key}"
    cloudformation = server.client("cloudformation")
    if _exists(cloudformation, artifact.stack_name):
        cloudformation.update_stack(StackName=artifact.stack_name, TemplateURL=url, Capabilities=CAPABILITIES)
    else:
        cloudformation.create_stack(
            StackName=artifact.stack_name,
            TemplateURL=url,
            Capabilities=CAPABILITIES,
            EnableTerminationProtection=artifact.termination_protection,
        )
    described = wait_for_stack(server, artifact.stack_name)
    physical_ids = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cloudformation.list_stack_resources(StackName=artifact.stack_name)["StackResourceSummaries"]
    }
    deployed = DeployedStack(
        artifact=artifact,
        adapted=adapted,
        outputs={o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])},
        physical_ids=physical_ids,
    )
    outputs_of[artifact.stack_name] = deployed.outputs
    deployed.created_by_boto3 = SkippedResources(server, deployed).create()
    if "ImageUri" in deployed.outputs:
        _placeholder_image(server, deployed.outputs["ImageUri"])
    return deployed


def _placeholder_image(server: MotoServer, image_uri: str) -> None:
    """What the image copy would push, as a manifest without layers: ECR calls on the image (tagging an approved
    version's) work; nothing runs it (the local runner runs the checkout's container/)."""
    repository, _, tag = image_uri.split("/", 1)[1].partition(":")
    ecr = server.client("ecr")
    if ecr.batch_get_image(repositoryName=repository, imageIds=[{"imageTag": tag}])["images"]:
        return
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json", "layers": []}
    ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag)


def wait_for_stack(server: MotoServer, stack_name: str) -> dict[str, Any]:
    cloudformation = server.client("cloudformation")
    deadline = time.monotonic() + STACK_WAIT_SECONDS
    while True:
        described: dict[str, Any] = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
        if not described["StackStatus"].endswith("_IN_PROGRESS"):
            return described
        if time.monotonic() > deadline:
            raise TimeoutError(f"{stack_name} still {described['StackStatus']} after {STACK_WAIT_SECONDS}s")
        time.sleep(0.2)


def _exists(cloudformation: Any, stack_name: str) -> bool:
    try:
        status = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]["StackStatus"]
    except ClientError:
        return False
    return bool(status != "DELETE_COMPLETE")


def _check_bootstrap_version(server: MotoServer, artifact: StackArtifact) -> None:
    value = server.client("ssm").get_parameter(Name=artifact.bootstrap_parameter)["Parameter"]["Value"]
    if int(value) < artifact.bootstrap_version:
        raise RuntimeError(f"{artifact.stack_name} needs bootstrap version {artifact.bootstrap_version}, found {value}")


def _file_destinations(artifact: StackArtifact) -> list[dict[str, str]]:
    files = json.loads(artifact.assets_file.read_text()).get("files", {})
    return [d for asset in files.values() for d in asset["destinations"].values()]


def _publish_file_assets(server: MotoServer, artifact: StackArtifact) -> None:
    """Upload every file asset (Lambda code zips, the template) to its destination, as cdk-assets does."""
    s3 = server.client("s3")
    for asset in json.loads(artifact.assets_file.read_text()).get("files", {}).values():
        source = artifact.assets_file.parent / asset["source"]["path"]
        body = _zip(source) if asset["source"].get("packaging") == "zip" and source.is_dir() else source.read_bytes()
        for destination in asset["destinations"].values():
            s3.put_object(Bucket=destination["bucketName"], Key=destination["objectKey"], Body=body)


@cache  # the image-copy Lambda's code is 50 MB, the same in every environment
def _zip(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(directory).as_posix())
    return buffer.getvalue()


class SkippedResources:
    """Creates the resources moto's CloudFormation skips, with the template's properties, via boto3."""

    def __init__(self, server: MotoServer, stack: DeployedStack) -> None:
        self.server = server
        self.stack = stack
        self._created: dict[str, str] = {}

    def create(self) -> dict[str, str]:
        # What a Ref to each resource created so far resolves to (a later one may name it: an alarm, its policy).
        created = self._created = {}
        for logical_id, resource in self.stack.adapted.for_boto3.items():
            handler = getattr(self, "_" + resource["Type"].split("::", 1)[1].replace("::", "_").lower())
            created[logical_id] = handler(logical_id, self.resolve(resource["Properties"]))
        # After the bucket policies: S3 accepts access logging only into a bucket whose policy lets
        # the logging service write (as in AWS).
        for logical_id, resource in self.stack.adapted.template["Resources"].items():
            if resource["Type"] == "AWS::S3::Bucket":
                self._bucket_properties(self.stack.physical_ids[logical_id], self.resolve(resource["Properties"]))
        return created

    def resolve(self, node: Any) -> Any:
        """Ref, Fn::GetAtt and Fn::Join against the deployed stack, as CloudFormation would."""
        if isinstance(node, list):
            return [self.resolve(item) for item in node]
        if not isinstance(node, dict):
            return node
        if "Ref" in node:
            return self._ref(node["Ref"])
        if "Fn::GetAtt" in node:
            return self._arn(*node["Fn::GetAtt"])
        if "Fn::Join" in node:
            separator, parts = node["Fn::Join"]
            return separator.join(str(part) for part in self.resolve(parts))
        return {key: self.resolve(value) for key, value in node.items()}

    def _ref(self, name: str) -> str:
        pseudo = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws",
                  "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": self.stack.artifact.stack_name}  # fmt: skip
        if name in pseudo:
            return pseudo[name]
        if name in self.stack.physical_ids:
            return self.stack.physical_ids[name]
        if self.stack.adapted.removed.get(name) == "AWS::ApplicationAutoScaling::ScalableTarget":
            return name
        if name in self._created:
            return self._created[name]
        raise KeyError(f"{self.stack.artifact.stack_name}: cannot resolve Ref {name}")

    def _arn(self, logical_id: str, attribute: str) -> str:
        physical = self._ref(logical_id)
        kind = self.stack.artifact.template()["Resources"][logical_id]["Type"]
        arns = {
            "AWS::S3::Bucket": f"arn:aws:s3:::{physical}",
            "AWS::KMS::Key": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{physical}",
            "AWS::IAM::Role": f"arn:aws:iam::{ACCOUNT}:role/{physical}",
        }
        if attribute in ("EndpointName", "ModelName") and kind.startswith("AWS::SageMaker::"):
            return physical.split("/")[-1]
        if attribute != "Arn" or kind not in arns:
            raise KeyError(f"{self.stack.artifact.stack_name}: cannot resolve Fn::GetAtt {logical_id}.{attribute}")
        return arns[kind]

    def _bucket_properties(self, bucket: str, properties: dict[str, Any]) -> None:
        """The bucket settings moto's CloudFormation ignores (it applies encryption and tags only)."""
        s3 = self.server.client("s3")
        if "VersioningConfiguration" in properties:
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration=properties["VersioningConfiguration"])
        if "PublicAccessBlockConfiguration" in properties:
            s3.put_public_access_block(
                Bucket=bucket, PublicAccessBlockConfiguration=properties["PublicAccessBlockConfiguration"]
            )
        if "OwnershipControls" in properties:
            s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=properties["OwnershipControls"])
        if "LifecycleConfiguration" in properties:
            rules = [_lifecycle_rule(rule) for rule in properties["LifecycleConfiguration"]["Rules"]]
            s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
        if "LoggingConfiguration" in properties:
            logging = properties["LoggingConfiguration"]
            target = {
                "TargetBucket": logging["DestinationBucketName"],
                "TargetPrefix": logging.get("LogFilePrefix", ""),
            }
            s3.put_bucket_logging(Bucket=bucket, BucketLoggingStatus={"LoggingEnabled": target})
        for metrics in properties.get("MetricsConfigurations", []):
            s3.put_bucket_metrics_configuration(
                Bucket=bucket,
                Id=metrics["Id"],
                MetricsConfiguration={"Id": metrics["Id"], "Filter": {"Prefix": metrics.get("Prefix", "")}},
            )

    def _cloudwatch_alarm(self, logical_id: str, properties: dict[str, Any]) -> str:
        name = physical_alarm_name(self.stack.artifact.stack_name, logical_id, properties)
        rest = {key: value for key, value in properties.items() if key != "AlarmName"}
        self.server.client("cloudwatch").put_metric_alarm(AlarmName=name, **rest)
        return name

    def _applicationautoscaling_scalabletarget(self, logical_id: str, properties: dict[str, Any]) -> str:
        client = self.server.client("application-autoscaling")
        scheduled = properties.pop("ScheduledActions", [])
        tags = {t["Key"]: t["Value"] for t in properties.pop("Tags", [])}
        client.register_scalable_target(**properties, Tags=tags)
        target = {k: properties[k] for k in ("ServiceNamespace", "ResourceId", "ScalableDimension")}
        for action in scheduled:
            client.put_scheduled_action(**target, **action)
        return str(properties["ResourceId"])

    def _applicationautoscaling_scalingpolicy(self, logical_id: str, properties: dict[str, Any]) -> str:
        """The policy's ARN: what CloudFormation's Ref of a scaling policy gives (an alarm's action names it)."""
        target_id = properties.pop("ScalingTargetId")
        target = self.stack.adapted.for_boto3[target_id]["Properties"]
        answer = self.server.client("application-autoscaling").put_scaling_policy(
            **{k: target[k] for k in ("ServiceNamespace", "ResourceId", "ScalableDimension")}, **properties
        )
        return str(answer["PolicyARN"])

    def _sagemaker_inferencecomponent(self, logical_id: str, properties: dict[str, Any]) -> str:
        # moto has no inference components: the local runner keeps them (local_sagemaker/components.py).
        # An update (a new model pin) is UpdateInferenceComponent with the new specification, as CloudFormation's
        # handler does; the copy count stays what scaling set.
        name = properties["InferenceComponentName"]
        sagemaker = self.server.client("sagemaker")
        existing = {c["InferenceComponentName"] for c in sagemaker.list_inference_components()["InferenceComponents"]}
        if name in existing:
            sagemaker.update_inference_component(InferenceComponentName=name, Specification=properties["Specification"])
        else:
            sagemaker.create_inference_component(**properties)
        return str(name)

    def _s3_bucketpolicy(self, logical_id: str, properties: dict[str, Any]) -> str:
        bucket = properties["Bucket"]
        self.server.client("s3").put_bucket_policy(Bucket=bucket, Policy=json.dumps(properties["PolicyDocument"]))
        return str(bucket)

    def _sns_topicpolicy(self, logical_id: str, properties: dict[str, Any]) -> str:
        for topic in properties["Topics"]:
            self.server.client("sns").set_topic_attributes(
                TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps(properties["PolicyDocument"])
            )
        return ",".join(properties["Topics"])

    def _sns_subscription(self, logical_id: str, properties: dict[str, Any]) -> str:
        answer = self.server.client("sns").subscribe(
            TopicArn=properties["TopicArn"], Protocol=properties["Protocol"], Endpoint=properties["Endpoint"]
        )
        return str(answer["SubscriptionArn"])

    def _scheduler_schedule(self, logical_id: str, properties: dict[str, Any]) -> str:
        # CloudFormation generates a name where the template gives none, as for alarms.
        name = properties.pop("Name", None) or physical_alarm_name(self.stack.artifact.stack_name, logical_id, {})
        self.server.client("scheduler").create_schedule(Name=name, **properties)
        return str(name)

    def _sagemaker_modelpackagegroup(self, logical_id: str, properties: dict[str, Any]) -> str:
        # moto has no PutModelPackageGroupPolicy: a policy (only where accounts differ) stays unchecked here.
        name = properties["ModelPackageGroupName"]
        self.server.client("sagemaker").create_model_package_group(
            ModelPackageGroupName=name,
            ModelPackageGroupDescription=properties.get("ModelPackageGroupDescription", ""),
            Tags=properties.get("Tags", []),
        )
        return str(name)


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A lifecycle rule of CloudFormation's shape in the S3 API's shape."""
    converted: dict[str, Any] = {
        "ID": rule["Id"],
        "Status": rule["Status"],
        "Filter": {"Prefix": rule.get("Prefix", "")},
    }
    if "ExpirationInDays" in rule:
        converted["Expiration"] = {"Days": rule["ExpirationInDays"]}
    for key in ("NoncurrentVersionExpiration", "AbortIncompleteMultipartUpload"):
        if key in rule:
            converted[key] = rule[key]
    return converted
