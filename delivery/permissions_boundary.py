"""The permissions boundary of every IAM role the app creates (docs/delivery.md, one-time setup).

An administrator creates the customer managed policy `PERMISSIONS_BOUNDARY_NAME` once per account
from `delivery/permissions-boundary.json`; the CloudFormation execution policy creates a role only
with that boundary, so a deployment cannot create a role that may do more than the app's roles do.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam

# Written once here; delivery/cloudformation-execution-policy-iam.json and docs/delivery.md name it
# too, and tests/delivery/test_permissions_boundary.py pins both.
PERMISSIONS_BOUNDARY_NAME = "sagemaker-gbdt-role-boundary"
PERMISSIONS_BOUNDARY_FILE = Path(__file__).with_name("permissions-boundary.json")


def apply_permissions_boundary(stack: cdk.Stack, *, name: str = PERMISSIONS_BOUNDARY_NAME) -> None:
    """Give every IAM role in `stack` (CDK's own custom-resource roles included) the boundary policy `name`."""
    boundary = iam.ManagedPolicy.from_managed_policy_name(stack, "PermissionsBoundary", name)
    iam.PermissionsBoundary.of(stack).apply(boundary)
