"""Small CloudFormation templates for review tests: a few resources, in the shape CDK synthesizes."""

from __future__ import annotations

import copy
from typing import Any

from review.model import Templates

Template = dict[str, Any]


def template(**resources: dict[str, Any]) -> Template:
    return {"Resources": copy.deepcopy(resources)}


def app(environment: str, stack: str, stack_template: Template) -> Templates:
    """A synthesized app with one environment and one stack."""
    return {environment: {f"{environment}-{stack}": stack_template}}


def bucket(*, name: str | None = None, retain: bool = False, versioned: bool = True) -> dict[str, Any]:
    properties: dict[str, Any] = {"VersioningConfiguration": {"Status": "Enabled" if versioned else "Suspended"}}
    if name is not None:
        properties["BucketName"] = name
    resource: dict[str, Any] = {"Type": "AWS::S3::Bucket", "Properties": properties}
    if retain:
        resource |= {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
    return resource


def queue() -> dict[str, Any]:
    return {"Type": "AWS::SQS::Queue", "Properties": {"MessageRetentionPeriod": 345600}}


def topic() -> dict[str, Any]:
    return {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": "alarms"}}


def database(*, storage_type: str) -> dict[str, Any]:
    return {
        "Type": "AWS::RDS::DBInstance",
        "DeletionPolicy": "Snapshot",
        "Properties": {"DBInstanceClass": "db.t3.micro", "Engine": "postgres", "StorageType": storage_type},
    }


def role() -> dict[str, Any]:
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        },
    }


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {
        "Type": "AWS::IAM::ManagedPolicy",
        "Properties": {
            "PolicyDocument": {"Version": "2012-10-17", "Statement": list(statements)},
            "Roles": [{"Ref": "Role"}],
        },
    }


READ_DATA = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": {"Fn::Sub": "${Data.Arn}/*"}}
EVERYTHING_IN_S3 = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}


def inference(*, model_data_url: str, endpoint_name: str = "gbdt-prod") -> Template:
    """Model, endpoint config and endpoint, wired by references as the Inference stack wires them."""
    return template(
        Model={
            "Type": "AWS::SageMaker::Model",
            "Properties": {
                "ExecutionRoleArn": "arn:aws:iam::123456789012:role/execution",
                "PrimaryContainer": {
                    "Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/gbdt:1",
                    "ModelDataUrl": model_data_url,
                },
            },
        },
        EndpointConfig={
            "Type": "AWS::SageMaker::EndpointConfig",
            "Properties": {
                "ProductionVariants": [
                    {
                        "ModelName": {"Fn::GetAtt": ["Model", "ModelName"]},
                        "VariantName": "primary",
                        "InstanceType": "ml.c5.xlarge",
                        "InitialInstanceCount": 2,
                        "InitialVariantWeight": 1,
                    }
                ]
            },
        },
        Endpoint={
            "Type": "AWS::SageMaker::Endpoint",
            "Properties": {
                "EndpointConfigName": {"Fn::GetAtt": ["EndpointConfig", "EndpointConfigName"]},
                "EndpointName": endpoint_name,
            },
        },
    )


def security_group(*ingress_ports: int) -> dict[str, Any]:
    """A security group admitting TCP on each of `ingress_ports` from anywhere (inline rules, as CDK writes them)."""
    return {
        "Type": "AWS::EC2::SecurityGroup",
        "Properties": {
            "GroupDescription": "endpoint",
            "VpcId": "vpc-1",
            "SecurityGroupIngress": [
                {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "CidrIp": "0.0.0.0/0"} for port in ingress_ports
            ],
        },
    }
