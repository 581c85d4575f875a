"""The delivery tests' fixtures: the app with every optional feature on, next to the shipped one.

The execution policy and the permissions boundary must cover what a user may turn on, not only what
environments.toml ships with: a feature that is off by default (tuning, a batch schedule, the notebook,
retraining on drift, VPC placement) creates roles and grants of its own, which would otherwise meet
AccessDenied only when someone turns it on.
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from config import AppConfig, parse_config
from config.settings import DEFAULT_CONFIG_FILE
from scripts.demo import make_asynchronous
from stacks.deployment_access_stack import add_deployment_access
from tests import declared
from tests.deploy_readiness.model import Stack
from tests.helpers import TEST_ACCOUNT, Synthesized, cdk_context, synthesize

# Prod's own account in the maximal configuration (the recommended setup): staging's registry is shared with it.
PROD_ACCOUNT = "210987654321"
VPC = {"subnet_ids": ["subnet-0123456789abcdef0"], "security_group_ids": ["sg-0123456789abcdef0"]}


def maximal_raw_config(path: Path = DEFAULT_CONFIG_FILE) -> dict[str, Any]:
    """`path`'s configuration with every optional feature on, in every environment whose rules allow it, and prod in
    an account of its own (the recommended setup: staging shares its approved versions with prod's account)."""
    raw: dict[str, Any] = copy.deepcopy(tomllib.loads(path.read_text(encoding="utf-8")))
    environments: dict[str, dict[str, Any]] = raw["environments"]
    environments["prod"]["account"] = PROD_ACCOUNT
    environments["prod"].pop("shared_account_with", None)
    raw["delivery"]["bootstrap_qualifiers"] = {name: f"gbdt{name}"[:10] for name in environments}
    for name, settings in environments.items():
        settings.setdefault("alarm_email", "ml-oncall@example.com")
        training = settings["training"]
        # Tuning's objective must be a metric the jobs evaluate (the one the metric hyperparameter chooses, if any).
        if declared.METRIC_HYPERPARAMETER is not None:
            training["hyperparameters"].setdefault(declared.METRIC_HYPERPARAMETER, declared.OBJECTIVE.partition(":")[2])
        gate = {"metric": declared.OBJECTIVE, "threshold": 0.75}
        training.setdefault("evaluation", gate | {"higher_is_better": declared.OBJECTIVE_DIRECTION == "Maximize"})
        training["vpc"] = VPC
        settings["tuning"] = {
            "enabled": True,
            "objective": declared.OBJECTIVE,
            "early_stopping": "Auto" if declared.ALGORITHM.capabilities.early_stopping else "Off",
            "warm_start": "TransferLearning",
        }
        settings["transform"]["schedule"] = {
            "expression": "cron(0 3 * * ? *)",
            "data_prefix": "datasets/daily",
            "score_prefix": "datasets/score",
            "output_prefix": "scheduled",
        }
        settings["notebook"] = {**settings.get("notebook", {}), "enabled": True, "allow_outside_dev": True, "vpc": VPC}
        endpoint = settings["endpoint"]
        # Dev's shipped hosting (an inference component) is covered by the shipped configuration: here dev is
        # asynchronous (its role publishes notifications, its autoscaling starts from zero), on instances.
        if name == "dev":
            make_asynchronous(endpoint)
        # A serverless variant runs in SageMaker's network only.
        if "serverless" not in endpoint:
            endpoint["vpc"] = VPC
        # Drift is measured on captured requests: a serverless endpoint (dev's) captures none.
        if endpoint.get("data_capture_percentage", 0) > 0:
            settings["drift"] = {
                **settings.get("drift", {}),
                "enabled": True,
                "retrain_on_drift": True,
                "retrain_data_prefix": f"datasets/{name}/latest",
            }
    return raw


def maximal_config() -> AppConfig:
    return parse_config(maximal_raw_config(), default_account=TEST_ACCOUNT)


def access_stacks(config: AppConfig, outdir: Path) -> list[Stack]:
    """The DeploymentAccess stacks for `config`, each in the account and region add_deployment_access gives it."""
    app = cdk.App(context=cdk_context(), outdir=str(outdir))
    stacks = add_deployment_access(app, config)
    assert stacks
    assembly = app.synth()
    return [
        Stack(
            "DeploymentAccess" if len(stacks) == 1 else f"DeploymentAccess{index}",
            assembly.get_stack_artifact(stack.artifact_id).template,
            # An environment without an account deploys to the credentials' own (the stack's account is a token).
            "" if cdk.Token.is_unresolved(stack.account) else stack.account,
            stack.region,
        )
        for index, stack in enumerate(stacks)
    ]


def all_templates(synthesized: Synthesized, outdir: Path) -> list[dict[str, Any]]:
    """Every template the app synthesizes with `synthesized`'s configuration: each environment's, the access stack's."""
    environments = [t for by_stack in synthesized.templates.values() for t in by_stack.values()]
    return environments + [dict(stack.template) for stack in access_stacks(synthesized.config, outdir)]


@pytest.fixture(scope="session")
def maximal_synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The whole app (cdk-nag included) synthesized from the maximal configuration."""
    return synthesize(maximal_config(), tmp_path_factory.mktemp("cdk.out.maximal"))
