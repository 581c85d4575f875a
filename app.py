#!/usr/bin/env python3
"""CDK entry point: load the configuration, build one Stage per environment, synthesize.

The only place that reads the process environment: CDK_DEFAULT_ACCOUNT (set by the CDK CLI from
the credentials in use) fills in `account` for environments that leave it out of the config.
"""

import os

from config import load_config
from stacks import build_app
from stacks.deployment_access_stack import add_deployment_access


def main() -> None:
    config = load_config(default_account=os.environ.get("CDK_DEFAULT_ACCOUNT"))
    app, _ = build_app(config)
    # Outside the stages: an administrator deploys it once per account (docs/delivery.md).
    add_deployment_access(app, config)
    app.synth()


if __name__ == "__main__":
    main()
