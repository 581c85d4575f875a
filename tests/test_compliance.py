"""cdk-nag (AWS Solutions, HIPAA Security, NIST 800-53 rev 5) gates every environment."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs

from config import AppConfig
from stacks import build_app
from tests.helpers import Synthesized, cdk_context, validation_findings


def test_every_environment_synthesizes_with_zero_unacknowledged_findings(synthesized: Synthesized) -> None:
    # GIVEN the app with every pack attached WHEN synthesized (the session fixture) THEN it passed:
    # each pack ran, found nothing open, and lists what was acknowledged
    report = json.loads((synthesized.outdir / "validation-report.json").read_text())
    plugins = {plugin["pluginName"]: plugin for plugin in report["pluginReports"]}
    assert set(plugins) == {"AwsSolutions", "HIPAA.Security", "NIST.800.53.R5"}
    for plugin in plugins.values():
        assert plugin["conclusion"] == "success"
        assert plugin["violations"] == []
        assert plugin["suppressedViolations"]
    assert {path.name for path in synthesized.outdir.glob("assembly-*")} == {
        "assembly-Dev",
        "assembly-Staging",
        "assembly-Prod",
    }


def test_a_finding_in_any_stage_fails_synthesis_and_names_rule_and_resource(
    app_config: AppConfig, tmp_path: Path
) -> None:
    # GIVEN the real app with one non-compliant resource added to the prod platform stack
    app, stages = build_app(app_config, context=cdk_context(), outdir=str(tmp_path))
    sqs.Queue(stages["prod"].platform, "UnencryptedQueue", encryption=sqs.QueueEncryption.UNENCRYPTED)
    logs.LogGroup(stages["staging"].platform, "UnencryptedLogs", retention=logs.RetentionDays.ONE_WEEK)
    # WHEN it is synthesized THEN synthesis fails
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    # AND the report names each pack's rule and the resource's path
    findings = validation_findings(tmp_path)
    queue = "Prod/Platform/UnencryptedQueue/Resource"
    assert ("AwsSolutions-SQS2", queue) in findings  # no server-side encryption
    assert ("AwsSolutions-SQS3", queue) in findings  # no dead-letter queue
    log_group = "Staging/Platform/UnencryptedLogs/Resource"
    assert ("HIPAA.Security-CloudWatchLogGroupEncrypted", log_group) in findings
    assert ("NIST.800.53.R5-CloudWatchLogGroupEncrypted", log_group) in findings


def test_acknowledgments_carry_a_reason(synthesized: Synthesized) -> None:
    # Every acknowledgment is recorded in the cloud assembly's metadata with its reason.
    acknowledged: dict[str, str] = {}
    for metadata_file in synthesized.outdir.glob("assembly-*/*.metadata.json"):
        for entries in json.loads(metadata_file.read_text()).values():
            for entry in entries:
                if entry["type"] == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                    acknowledged |= entry["data"]
    assert acknowledged
    for rule, reason in acknowledged.items():
        assert rule.split("::")[0] in {"AwsSolutions", "HIPAA.Security", "NIST.800.53.R5"}, rule
        assert len(reason) > 60, f"{rule}: give a reason a security reviewer would accept"
