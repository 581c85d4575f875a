"""The cdk-nag rule packs every environment is checked against."""

from __future__ import annotations

import aws_cdk as cdk
import cdk_nag
from constructs import IConstruct


def add_compliance_checks(scope: IConstruct) -> None:
    """Check `scope` (the app) against AWS Solutions, HIPAA Security and NIST 800-53 rev 5.

    The packs run as CDK policy-validation plugins: synthesis fails on any finding that is not
    acknowledged next to its resource (see `sagemaker_constructs.nag.acknowledge`), and the
    cloud assembly gets a `policy-validation-report.json`.
    """
    cdk.Validations.of(scope).add_plugins(
        cdk_nag.AwsSolutionsChecks(scope, verbose=True),
        cdk_nag.HIPAASecurityChecks(scope, verbose=True),
        cdk_nag.NIST80053R5Checks(scope, verbose=True),
    )
