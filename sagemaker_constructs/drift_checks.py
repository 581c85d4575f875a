"""DriftMonitor's argument checks: every problem of its names, prefixes and numbers, named."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import TYPE_CHECKING

import aws_cdk as cdk

from config.drift import drift_problems

if TYPE_CHECKING:  # the construct imports this module
    from sagemaker_constructs.drift_monitor import DriftJobOptions

_NAME_PREFIX = re.compile(r"[a-z0-9](-*[a-z0-9])*")
_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
# CreateProcessingJob: names of at most 63 characters; ours are <prefix>-drift-<8 hex digits>.
MAX_JOB_NAME_LENGTH = 63
_JOB_SUFFIX_LENGTH = len("-drift-") + 8
PROCESSING_MAX_RUNTIME = cdk.Duration.days(7)


def argument_problems(
    *,
    name_prefix: str,
    endpoint_name: str,
    variant_name: str,
    baseline_key: str | None,
    baseline_package_arn: str | None,
    capture_prefix: str,
    report_prefix: str,
    frequency: str,
    frequencies: Collection[str],
) -> list[str]:
    errors = []
    longest = MAX_JOB_NAME_LENGTH - _JOB_SUFFIX_LENGTH
    if not _NAME_PREFIX.fullmatch(name_prefix) or len(name_prefix) > longest:
        errors.append(f"name_prefix must be 1-{longest} lowercase letters, digits or '-', got {name_prefix!r}")
    for field, value in (("endpoint_name", endpoint_name), ("variant_name", variant_name)):
        if not _NAME.fullmatch(value):
            errors.append(f"{field} must be 1-63 letters, digits or '-', got {value!r}")
    if (baseline_key is None) == (baseline_package_arn is None):
        errors.append("give baseline_key (the model artifact's key) or baseline_package_arn, not both")
    if baseline_key is not None and (not baseline_key.endswith(".tar.gz") or baseline_key.startswith("/")):
        errors.append(f"baseline_key must be the model artifact's key (ending in .tar.gz), got {baseline_key!r}")
    for field, value in (("capture_prefix", capture_prefix), ("report_prefix", report_prefix)):
        if not value.endswith("/") or value.startswith("/") or "{" in value or "'" in value:
            errors.append(f"{field} must be a key prefix ending in '/' (no leading '/', no braces or quotes)")
    if frequency not in frequencies:
        errors.append(f"frequency must be one of {', '.join(frequencies)}, got {frequency!r}")
    return errors


def number_problems(psi_threshold: float, min_rows: int, job: DriftJobOptions, settle: cdk.Duration) -> list[str]:
    errors = drift_problems(psi_threshold, min_rows)
    if not 1 <= job.volume_size_gb <= 16384:
        errors.append(f"job.volume_size_gb must be 1-16384, got {job.volume_size_gb}")
    if not 1 <= job.max_runtime.to_seconds() <= PROCESSING_MAX_RUNTIME.to_seconds():
        errors.append(f"job.max_runtime must be 1 s to 7 days, got {job.max_runtime.to_seconds()} s")
    if not 0 <= settle.to_seconds() <= 3600:
        errors.append(f"settle must be 0-60 minutes, got {settle.to_seconds()} s")
    return errors
