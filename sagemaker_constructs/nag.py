"""Acknowledging a cdk-nag finding, next to the resource it is about."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge cdk-nag rule `rule_id` (e.g. `AwsSolutions-IAM5[Resource::*]`) on `scope`.

    The reason is what a security reviewer reads in the synthesized report: say why the finding
    does not apply here or what compensates for it, specifically.
    """
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=_plugin_rule(rule_id), reason=reason))


def _plugin_rule(rule_id: str) -> str:
    # Policy-validation rule ids are `<plugin>::<rule>`; cdk-nag's plugin names are the packs'.
    return f"{rule_id.split('-', 1)[0]}::{rule_id}"


def acknowledge_in_all_packs(scope: IConstruct, rule_names: dict[str, str], reason: str) -> None:
    """Acknowledge the same finding in every pack that checks it.

    `rule_names` maps a pack prefix (`AwsSolutions`, `HIPAA.Security`, `NIST.800.53.R5`) to that
    pack's name for the rule (`L1`, `LambdaDLQ`, ...).
    """
    for pack, rule in rule_names.items():
        acknowledge(scope, f"{pack}-{rule}", reason)
