"""The operations CLI: one subcommand per routine job on a deployed environment.

    python -m sagemaker_ops status --env prod
    python -m sagemaker_ops smoke --env prod --row 5.1,3.5,1.4,0.2 --json

Every subcommand takes `--env` (required), `--profile`, `--region` (default: the environment's),
`--endpoint-url` (or boto3's own `AWS_ENDPOINT_URL`) and `--json` (one JSON document on stdout
instead of text). Progress goes to stderr. This module parses the arguments and reports; the
handlers are in `commands`. Exit codes are the project's (`config.exit_codes`, docs/operations.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from config import ConfigError, load_config
from config.exit_codes import OPS, ExitCode, codes_of, help_epilog
from config.settings import DEFAULT_CONFIG_FILE
from sagemaker_ops import commands
from sagemaker_ops.deployment import Deployment, NotDeployedError
from sagemaker_ops.progress import WaitTimeoutError

OK, FAILED, USAGE, AWS_ERROR, TIMED_OUT = (
    ExitCode.OK,
    ExitCode.FAILED,
    ExitCode.USAGE,
    ExitCode.AWS_ERROR,
    ExitCode.TIMED_OUT,
)
# The codes this CLI returns (its --help lists them).
EXIT_CODES = codes_of(OPS)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        context = commands.Context(_deployment(args), args)
        result = args.handler(context)
    except (commands.UsageError, ConfigError) as error:
        return _fail(args, USAGE, str(error))
    except commands.CheckFailedError as error:
        _emit(args, {**error.result, "ok": False, "error": str(error)})
        return FAILED
    except WaitTimeoutError as error:
        return _fail(args, TIMED_OUT, str(error))
    except (NotDeployedError, ClientError, BotoCoreError) as error:
        return _fail(args, AWS_ERROR, str(error))
    _emit(args, {**result, "ok": True})
    return OK


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--env", required=True, help="environment: dev, staging or prod")
    common.add_argument("--profile", help="AWS profile (default: the default credential chain)")
    common.add_argument("--region", help="AWS region (default: the environment's, from the configuration)")
    common.add_argument("--endpoint-url", help="send every AWS call here (an emulator); AWS_ENDPOINT_URL also works")
    common.add_argument("--config", type=Path, default=DEFAULT_CONFIG_FILE, help="configuration file")
    common.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    common.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait at most (default 3600)")
    common.add_argument("--poll-seconds", type=float, default=15.0, help="seconds between status checks")

    parser = argparse.ArgumentParser(
        prog="python -m sagemaker_ops",
        description="Day-2 operations of a deployed environment.",
        epilog=help_epilog(OPS),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        name: str, handler: Callable[[commands.Context], dict[str, Any]], help_: str
    ) -> argparse.ArgumentParser:
        sub = subcommands.add_parser(name, parents=[common], help=help_, description=help_)
        sub.set_defaults(handler=handler)
        return sub

    train = command("train", commands.train, "start the training pipeline and wait for it")
    train.add_argument("--data-prefix", required=True, help="key prefix of the training data in the data bucket")
    train.add_argument("--hyperparameter", "-p", action="append", default=[], metavar="NAME=VALUE", help="repeatable")
    train.add_argument("--no-wait", action="store_true", help="return once the execution has started")
    train.add_argument(
        "--tuning", choices=["on", "off"], help="a hyperparameter tuning job or one training job (default: configured)"
    )
    train.add_argument(
        "--tuning-range", action="append", default=[], metavar="NAME=MIN:MAX", help="narrow a tuned range; repeatable"
    )
    train.add_argument(
        "--tuning-parent",
        metavar="NAME|latest|none",
        help="warm start from this tuning job (default with warm_start: the latest completed one)",
    )

    status = command("status", commands.status, "endpoint status, endpoint config, instance counts, last deployment")
    status.add_argument(
        "--tuning-job", metavar="NAME|latest", help="instead: a tuning job's progress, per finished training job"
    )

    invoke = command("invoke", commands.invoke, "send a CSV or JSON file to the endpoint and print the predictions")
    invoke.add_argument("--file", type=Path, required=True, help=".csv, .json or .jsonl")
    invoke.add_argument("--content-type", help="default: from the file extension")

    transform = command("transform", commands.transform, "run a batch transform job with the deployed model and wait")
    transform.add_argument("--input", required=True, help="s3:// URI, or a key prefix in the data bucket")
    transform.add_argument("--output", help="s3:// URI (default: s3://<artifacts>/transform/<job>/)")
    transform.add_argument("--content-type", default="text/csv")
    transform.add_argument("--job-name", help="default: <app>-<env>-transform-<UTC time>")

    logs = command("logs", commands.logs, "print the endpoint's or a job's log events")
    logs.add_argument("--job", help="a training or transform job (default: the endpoint's logs)")
    logs.add_argument("--since", default="10m", help="how far back, e.g. 30s, 10m, 2h, 1d (default 10m)")
    logs.add_argument("--follow", action="store_true", help="keep printing new events until --timeout")
    logs.add_argument("--limit", type=int, default=1000, help="at most this many events")

    promote = command(
        "promote", commands.promote, "print the configuration pin for a finished training job or pipeline execution"
    )
    produced_by = promote.add_mutually_exclusive_group(required=True)
    produced_by.add_argument("--job", help="a training job's name")
    produced_by.add_argument("--execution-arn", help="a training pipeline execution (Training stack) that succeeded")

    smoke = command(
        "smoke", commands.smoke, "after a deploy: the endpoint answers, and runs the expected endpoint config"
    )
    sample = smoke.add_mutually_exclusive_group(required=True)
    sample.add_argument("--row", help="one CSV row of features")
    sample.add_argument("--file", type=Path, help="a sample request file (.csv, .json, .jsonl)")
    return parser


def _deployment(args: argparse.Namespace) -> Deployment:
    settings = load_config(args.config).environment(args.env)
    session = boto3.Session(profile_name=args.profile, region_name=args.region or settings.region)
    return Deployment(settings, session, endpoint_url=args.endpoint_url)


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


def _fail(args: argparse.Namespace, code: int, message: str) -> int:
    if args.json:
        _emit(args, {"ok": False, "exit_code": code, "error": message})
    else:
        _err(f"error: {message}")
    return code


def _emit(args: argparse.Namespace, result: dict[str, Any]) -> None:
    if args.json:
        commands.out(json.dumps(result, indent=2, default=str))
        return
    if not result.get("ok", True) and "error" in result:
        _err(f"FAILED: {result['error']}")
    for key, value in result.items():
        if key in {"ok", "error"} or value is None:
            continue
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        commands.out(f"{key.replace('_', ' ')}: {text}")
