"""The operations CLI: one subcommand per routine job on a deployed environment.

    python -m sagemaker_ops status --env prod
    python -m sagemaker_ops smoke --env prod --row 5.1,3.5,1.4,0.2 --json

Every subcommand takes `--env` (required), `--profile`, `--region` (default: the environment's),
`--endpoint-url` (or boto3's own `AWS_ENDPOINT_URL`) and `--json` (one JSON document on stdout
instead of text). Progress goes to stderr. This module parses the arguments and reports; the
handlers are in `commands`. Exit codes are the project's (`config.exit_codes`, docs/operations.md).

Every argument is checked before the first AWS call (`arguments`): a bad value, like an error of
AWS or of the credentials, ends the command with one line on stderr (or the `--json` document)
and the table's exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import boto3
import botocore.session
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ParamValidationError, ProfileNotFound

from config import ConfigError, EnvironmentConfig, EnvironmentName, load_config
from config.exit_codes import OPS, ExitCode, codes_of, help_epilog
from config.settings import DEFAULT_CONFIG_FILE
from sagemaker_ops import arguments, commands, promote_command, registry_command
from sagemaker_ops.arguments import UsageError
from sagemaker_ops.deployment import Deployment, NotDeployedError
from sagemaker_ops.progress import CheckFailedError, WaitTimeoutError

OK, FAILED, USAGE, AWS_ERROR, TIMED_OUT = (
    ExitCode.OK,
    ExitCode.FAILED,
    ExitCode.USAGE,
    ExitCode.AWS_ERROR,
    ExitCode.TIMED_OUT,
)
# The codes this CLI returns (its --help lists them).
EXIT_CODES = codes_of(OPS)


_NO_CREDENTIALS = (
    "no AWS credentials found: give --profile, set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), "
    "or run `aws configure` / `aws sso login`"
)
# A hint for the AWS error codes that say what to do about the credentials.
_CREDENTIAL_HINTS = {
    "ExpiredToken": "the credentials expired: renew them (aws sso login, or a new session)",
    "ExpiredTokenException": "the credentials expired: renew them (aws sso login, or a new session)",
    "RequestExpired": "the credentials expired or the clock is off: renew them, check the time",
    "InvalidClientTokenId": "the credentials are not valid in this partition or account: check --profile",
    "UnrecognizedClientException": "the credentials are not valid in this partition or account: check --profile",
    "AccessDenied": "the credentials may not do this: check --profile and the role's permissions",
    "AccessDeniedException": "the credentials may not do this: check --profile and the role's permissions",
}


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit code 2, also with --json."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see --help)")


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(given)
    except (UsageError, ProfileNotFound) as error:
        args = argparse.Namespace(json="--json" in given, profile=None)
        return _fail(args, USAGE, _usage_message(error, args))
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        settings = _checked_settings(args)
        context = commands.Context(_deployment(args, settings), args)
        result = args.handler(context)
    except (UsageError, ConfigError, ParamValidationError, ProfileNotFound) as error:
        return _fail(args, USAGE, _usage_message(error, args))
    except CheckFailedError as error:
        _emit(args, {**error.result, "ok": False, "error": str(error)})
        return FAILED
    except WaitTimeoutError as error:
        return _fail(args, TIMED_OUT, str(error))
    except (NotDeployedError, ClientError, BotoCoreError) as error:
        return _fail(args, AWS_ERROR, _aws_message(error))
    _emit(args, {**result, "ok": True})
    return OK


def _checked_settings(args: argparse.Namespace) -> EnvironmentConfig:
    """The environment's settings, once every argument of the command passed its check."""
    settings = load_config(args.config).environment(args.env)
    arguments.check_common(args, settings)
    args.check(args, settings)
    return settings


def build_parser() -> argparse.ArgumentParser:
    common = _common_options()
    parser = _Parser(
        prog="python -m sagemaker_ops",
        description="Day-2 operations of a deployed environment.",
        epilog=help_epilog(OPS),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        name: str,
        handler: Callable[[commands.Context], dict[str, Any]],
        help_: str,
        check: Callable[[argparse.Namespace, EnvironmentConfig], None] = lambda _args, _settings: None,
    ) -> argparse.ArgumentParser:
        sub = subcommands.add_parser(name, parents=[common], help=help_, description=help_)
        sub.set_defaults(handler=handler, check=check)
        return sub

    train = command("train", commands.train, "start the training pipeline and wait for it", arguments.check_train)
    train.add_argument(
        "--data-prefix",
        type=arguments.data_prefix,
        required=True,
        help="key prefix of the training data in the data bucket (a trailing '/' is dropped)",
    )
    train.add_argument(
        "--hyperparameter",
        "-p",
        type=arguments.hyperparameter,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="repeatable; over the environment's configured ones, checked against the container's schema",
    )
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

    invoke = command(
        "invoke",
        commands.invoke,
        "send a CSV or JSON file to the endpoint and print the predictions",
        arguments.check_request,
    )
    invoke.add_argument("--file", type=arguments.request_file, required=True, help=".csv, .json or .jsonl")
    invoke.add_argument("--content-type", type=arguments.content_type, help="default: from the file extension")

    transform = command("transform", commands.transform, "run a batch transform job with the deployed model and wait")
    transform.add_argument(
        "--input", type=arguments.s3_uri_or_prefix, required=True, help="s3:// URI, or a key prefix in the data bucket"
    )
    transform.add_argument(
        "--output", type=arguments.s3_uri, help="s3:// URI (default: s3://<artifacts>/transform/<job>/)"
    )
    transform.add_argument("--content-type", type=arguments.content_type, default="text/csv")
    transform.add_argument("--job-name", type=arguments.job_name, help="default: <app>-<env>-transform-<UTC time>")

    logs = command("logs", commands.logs, "print the endpoint's or a job's log events", arguments.check_logs)
    logs.add_argument("--job", type=arguments.job_name, help="a SageMaker job (default: the endpoint's logs)")
    logs.add_argument(
        "--kind",
        choices=sorted(commands.JOB_KINDS),
        help="the kind of --job (default: whichever SageMaker knows the name as)",
    )
    logs.add_argument(
        "--since",
        type=arguments.duration,
        default=arguments.duration("10m"),
        help="how far back, e.g. 30s, 10m, 2h, 1d (default 10m)",
    )
    logs.add_argument("--follow", action="store_true", help="keep printing new events until --timeout")
    _number(logs, "--limit", arguments.count(arguments.MAX_LOG_EVENTS), 1000, "at most this many events")

    promote = command(
        "promote",
        promote_command.promote,
        "print the configuration pin of an approved model package version (or, in dev, of a finished training "
        "job or pipeline execution)",
    )
    produced_by = promote.add_mutually_exclusive_group(required=True)
    produced_by.add_argument("--package", type=arguments.package, help=_PACKAGE_HELP)
    produced_by.add_argument("--job", type=arguments.job_name, help="a training job's name (dev's artifact pin)")
    produced_by.add_argument(
        "--execution-arn",
        type=arguments.execution_arn,
        help="a training pipeline execution (Training stack) that succeeded (dev's artifact pin)",
    )
    for name, handler, what in (
        ("approve", registry_command.approve, "approve a model package version: it may then be deployed"),
        ("reject", registry_command.reject, "reject a model package version, with the reason"),
    ):
        decide = command(name, handler, what)
        decide.add_argument("--package", type=arguments.package, required=True, help=_PACKAGE_HELP)
        decide.add_argument(
            "--reason", type=arguments.reason, required=name == "reject", help="recorded as ApprovalDescription"
        )

    command(
        "check-pin",
        registry_command.check_pin,
        "before a deploy: the model package version endpoint.model_package pins is Approved",
    )

    smoke = command(
        "smoke",
        commands.smoke,
        "after a deploy: the endpoint answers, and runs the expected endpoint config",
        arguments.check_request,
    )
    sample = smoke.add_mutually_exclusive_group(required=True)
    sample.add_argument("--row", type=arguments.row, help="one CSV row of features")
    sample.add_argument("--file", type=arguments.request_file, help="a sample request file (.csv, .json, .jsonl)")
    _capacity_wait(invoke, smoke)
    return parser


# AWS documents that provisioning an instance for an endpoint scaled to zero takes several minutes; 15 bounds it.
CAPACITY_WAIT_SECONDS = 900.0


def _common_options() -> _Parser:
    """The options every command takes: where the environment is, how to print, how long to wait."""
    common = _Parser(add_help=False)
    common.add_argument("--env", required=True, choices=[e.value for e in EnvironmentName], help="environment")
    common.add_argument("--profile", type=arguments.name, help="AWS profile (default: the default credential chain)")
    common.add_argument(
        "--region", type=arguments.region, help="AWS region (default: the environment's, from the configuration)"
    )
    common.add_argument(
        "--endpoint-url",
        type=arguments.endpoint_url,
        help="send every AWS call here (an emulator); AWS_ENDPOINT_URL also works",
    )
    common.add_argument("--config", type=Path, default=DEFAULT_CONFIG_FILE, help="configuration file")
    common.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    _number(common, "--timeout", arguments.seconds(arguments.MAX_WAIT_SECONDS), 3600.0, "seconds to wait at most")
    _number(
        common, "--poll-seconds", arguments.seconds(arguments.MAX_POLL_SECONDS), 15.0, "seconds between status checks"
    )
    return common


def _capacity_wait(*commands: argparse.ArgumentParser) -> None:
    for command in commands:
        _number(
            command,
            "--capacity-wait",
            arguments.seconds(arguments.MAX_WAIT_SECONDS),
            CAPACITY_WAIT_SECONDS,
            "an inference component scaled to zero refuses requests while an instance starts: retry for at most "
            "this many seconds",
        )


def _number(parser: argparse.ArgumentParser, flag: str, kind: arguments.Bounded, default: float, what: str) -> None:
    """A numeric option whose help shows the default it is given (argparse's %(default)g) and the bounds its type
    enforces."""
    parser.add_argument(flag, type=kind, default=default, help=f"{what} (default %(default)g; {kind.allowed})")


_PACKAGE_HELP = "a version of the environment's model package group: <n>, <group>/<n> or its ARN"


def _deployment(args: argparse.Namespace, settings: EnvironmentConfig) -> Deployment:
    """The environment as deployed, through a session with credentials (no AWS call yet)."""
    session = boto3.Session(profile_name=args.profile, region_name=args.region or settings.region)
    if session.get_credentials() is None:
        raise NoCredentialsError()
    return Deployment(settings, session, endpoint_url=args.endpoint_url)


def _usage_message(error: Exception, args: argparse.Namespace) -> str:
    """One line naming the argument, or the environment variable, that is wrong."""
    if isinstance(error, ProfileNotFound):
        # botocore resolves the profile wherever it reads its configuration, even for its bundled data.
        where = "argument --profile" if args.profile else "environment variable AWS_PROFILE"
        known = ", ".join(sorted(botocore.session.Session().available_profiles)) or "none"
        return f"{where}: no profile {error.kwargs.get('profile')!r} in the AWS config files (known: {known})"
    return _one_line(error)


def _aws_message(error: Exception) -> str:
    """One line: what AWS (or botocore, or the credential chain) answered, and what to do about the credentials."""
    if isinstance(error, NoCredentialsError):
        return _NO_CREDENTIALS
    hint = ""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        hint = f" ({_CREDENTIAL_HINTS[code]})" if code in _CREDENTIAL_HINTS else ""
    return _one_line(error) + hint


def _one_line(error: Exception) -> str:
    """The error's message on one line (botocore's parameter errors span several)."""
    return " ".join(str(error).split())


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
