#!/usr/bin/env python3
"""CDK entry point: load the configuration, build one Stage per environment, synthesize.

The only place that reads the process environment: CDK_DEFAULT_ACCOUNT (set by the CDK CLI from
the credentials in use) fills in `account` for environments that leave it out of the config.
"""

import contextlib
import os
import sys
from types import TracebackType
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from config import AppConfig, ConfigError, EnvironmentName, load_config
from stacks import build_app
from stacks.deployment_access_stack import add_deployment_access


def build(config: AppConfig, **options: Any) -> cdk.App:
    """`build_app`, with a construct's ValueError raised as a ConfigError naming environment and construct.

    The configuration's validation is meant to catch every mistake first; this is the net under it,
    so that a rule only a construct knows still names the environment, not a bare CDK traceback.
    """
    try:
        app, _ = build_app(config, **options)
    except ConfigError:
        raise
    except ValueError as error:
        raise _naming_environment(error) from error
    return app


def _naming_environment(error: ValueError) -> ConfigError:
    path = _construct_path(error.__traceback__)
    stage = path.split("/", 1)[0] if path else ""
    names = {name.stage_id: name.value for name in EnvironmentName}
    where = f"environment {names[stage]!r}" if stage in names else "(construct outside any environment)"
    if path and path not in str(error):  # constructs that gather their problems name themselves already
        where = f"{where}: {path}"
    return ConfigError(f"{where}: {error} (check that environment's settings in config/environments.toml)")


def _construct_path(traceback: TracebackType | None) -> str | None:
    """The path of the innermost construct whose code raised (`Prod/Inference/Endpoint`)."""
    path = None
    while traceback is not None:
        candidate = traceback.tb_frame.f_locals.get("self")
        if isinstance(candidate, Construct):
            # A construct that raised before calling Construct.__init__ has no node yet (jsii refuses).
            with contextlib.suppress(Exception):
                path = candidate.node.path or path
        traceback = traceback.tb_next
    return path


def main() -> None:
    try:
        config = load_config(default_account=os.environ.get("CDK_DEFAULT_ACCOUNT"))
        app = build(config)
        # Outside the stages: an administrator deploys it once per account (docs/delivery.md).
        add_deployment_access(app, config)
    except ConfigError as error:
        sys.exit(f"configuration error:\n{error}")
    app.synth()


if __name__ == "__main__":
    main()
