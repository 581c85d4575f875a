"""Every argument of every command is checked before the first AWS call: its worst values exit 2 with one line.

The line names the option and what it allows; there is no traceback, and botocore never sends a request
(the tests make any API call fail loudly).
"""

from __future__ import annotations

import argparse
import tomllib
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from botocore.client import BaseClient

from config.settings import DEFAULT_CONFIG_FILE
from sagemaker_ops import arguments
from sagemaker_ops.cli import USAGE, build_parser
from scripts.demo_swap import to_toml
from tests import declared
from tests.conftest import ROOT
from tests.helpers import cases, fake_aws_credentials
from tests.sagemaker_ops.stubbed import run, run_json

ARN = "arn:aws:states:us-east-1:123456789012:execution:Pipeline:run-1"
# Hyperparameters of every algorithm's schema (the contract layer's), and the algorithm's required choice if any.
INTEGER, FLOAT = declared.contract_setting("integer"), declared.contract_setting("float")
CHOICE = declared.optional(declared.required)
CHOICES = CHOICE.choices or () if CHOICE else ("",)


@pytest.fixture(autouse=True)
def _no_aws_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials that would work, and any AWS request an error of the test."""
    fake_aws_credentials(monkeypatch)

    def refuse(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        raise AssertionError(f"{operation} was called before the arguments were checked")

    monkeypatch.setattr(BaseClient, "_make_api_call", refuse)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    """Request files at their worst: empty, too large, of no known type, a directory, a config that is binary."""
    empty = tmp_path / "empty.csv"
    empty.touch()
    large = tmp_path / "large.csv"
    with large.open("wb") as handle:
        handle.truncate(arguments.max_request_bytes() + 1)
    unknown = tmp_path / "rows.txt"
    unknown.write_text("1,2\n")
    binary = tmp_path / "environments.toml"
    binary.write_bytes(b"\xff\xfe\x00binary")
    return {"empty": str(empty), "large": str(large), "unknown": str(unknown), "dir": str(tmp_path),
            "missing": str(tmp_path / "missing.csv"), "binary": str(binary)}  # fmt: skip


ENV = ["--env", "dev"]
# Command lines complete but for the option a row gets wrong.
TRAIN_WITH = ["train", *ENV, "--data-prefix", "d"]
INVOKE_WITH = ["invoke", *ENV, "--file", "{unknown}"]
TRANSFORM_WITH = ["transform", *ENV, "--input", "x"]
# One row a worst value: its id, the command line, and what the error line must name (a table: some of its rows
# are alike in shape, and duplicates pairs them).
WORST: list[tuple[str, list[str], str]] = [
    ("env-missing", ["status"], "--env"),
    ("env-empty", ["status", "--env", ""], "--env"),
    ("env-unicode", ["status", "--env", "prød"], "--env"),
    ("region-empty", ["status", *ENV, "--region", ""], "--region"),
    ("region-typo", ["status", *ENV, "--region", "us-esat-1"], "did you mean us-west-1 or us-east-1"),
    ("region-unicode", ["status", *ENV, "--region", "ü-east-1"], "--region"),
    ("url-not-a-url", ["status", *ENV, "--endpoint-url", "notaurl"], "--endpoint-url"),
    ("url-empty", ["status", *ENV, "--endpoint-url", ""], "--endpoint-url"),
    ("url-scheme", ["status", *ENV, "--endpoint-url", "ftp://localhost"], "--endpoint-url"),
    ("url-no-host", ["status", *ENV, "--endpoint-url", "http://"], "--endpoint-url"),
    ("url-port", ["status", *ENV, "--endpoint-url", "http://localhost:99999"], "--endpoint-url"),
    ("url-space", ["status", *ENV, "--endpoint-url", "http://local host"], "--endpoint-url"),
    ("timeout-negative", ["status", *ENV, "--timeout", "-5"], "--timeout"),
    ("timeout-zero", ["status", *ENV, "--timeout", "0"], "--timeout"),
    ("timeout-nan", ["status", *ENV, "--timeout", "nan"], "--timeout"),
    ("timeout-inf", ["status", *ENV, "--timeout", "inf"], "--timeout"),
    ("timeout-overflow", ["status", *ENV, "--timeout", "1e400"], "--timeout"),
    ("timeout-huge", ["status", *ENV, "--timeout", str(arguments.MAX_WAIT_SECONDS + 1)], "to 4838400"),
    ("timeout-text", ["status", *ENV, "--timeout", "abc"], "--timeout"),
    ("poll-zero", ["status", *ENV, "--poll-seconds", "0"], "--poll-seconds"),
    ("poll-busy-loop", ["status", *ENV, "--poll-seconds", "0.0001"], "from 0.01"),
    ("poll-negative", ["status", *ENV, "--poll-seconds", "-1"], "--poll-seconds"),
    ("poll-nan", ["status", *ENV, "--poll-seconds", "nan"], "--poll-seconds"),
    ("poll-huge", ["status", *ENV, "--poll-seconds", "3601"], "--poll-seconds"),
    ("profile-empty", ["status", *ENV, "--profile", ""], "--profile"),
    ("profile-spaces", ["status", *ENV, "--profile", "no such profile"], "--profile"),
    ("profile-unknown", ["status", *ENV, "--profile", "nosuchprofile"], "no profile 'nosuchprofile'"),
    ("config-missing", ["status", *ENV, "--config", "{missing}"], "cannot read configuration file"),
    ("config-directory", ["status", *ENV, "--config", "{dir}"], "cannot read configuration file"),
    ("config-binary", ["status", *ENV, "--config", "{binary}"], "not UTF-8 text"),
    ("unknown-option", ["status", *ENV, "--bogus"], "unrecognized arguments: --bogus"),
    ("unknown-command", ["retrain", *ENV], "invalid choice: 'retrain'"),
    ("no-command", [], "COMMAND"),
    ("data-prefix-missing", ["train", *ENV], "--data-prefix"),
    ("data-prefix-empty", ["train", *ENV, "--data-prefix", ""], "whole bucket"),
    ("data-prefix-slash", ["train", *ENV, "--data-prefix", "/"], "whole bucket"),
    ("data-prefix-absolute", ["train", *ENV, "--data-prefix", "/training"], "must not start with '/'"),
    ("data-prefix-url", ["train", *ENV, "--data-prefix", "s3://bucket/training"], "not a URL"),
    ("data-prefix-space", ["train", *ENV, "--data-prefix", "training 2026"], "spaces"),
    ("data-prefix-tab", ["train", *ENV, "--data-prefix", "a\tb"], "control characters"),
    ("data-prefix-empty-segment", ["train", *ENV, "--data-prefix", "a//b"], "empty path segment"),
    ("data-prefix-too-long", ["train", *ENV, "--data-prefix", "é" * 600], "at most 1024 bytes"),
    # The version the run registers records s3://<data bucket>/<prefix>/ in a metadata value (CustomerMetadataValue).
    ("data-prefix-metadata-length", ["train", *ENV, "--data-prefix", "d" * 187], "which leaves 186 for the prefix"),
    ("data-prefix-metadata-character", ["train", *ENV, "--data-prefix", "data(1)"], "holds '()': only letters"),
    ("p-no-equals", [*TRAIN_WITH, "-p", INTEGER.name], "NAME=VALUE"),
    ("p-no-name", [*TRAIN_WITH, "-p", "=100"], "NAME=VALUE"),
    ("p-ill-typed", [*TRAIN_WITH, "-p", f"{INTEGER.name}=abc"], f"{INTEGER.name} must be an integer, got 'abc'"),
    ("p-empty-value", [*TRAIN_WITH, "-p", f"{INTEGER.name}="], f"{INTEGER.name} must be an integer, got ''"),
    ("p-huge", [*TRAIN_WITH, "-p", f"{INTEGER.name}=" + "9" * 30], f"{INTEGER.name} must be <= {INTEGER.maximum}"),
    ("p-nan", [*TRAIN_WITH, "-p", f"{FLOAT.name}=nan"], f"{FLOAT.name} must be a finite number"),
    ("p-unknown", [*TRAIN_WITH, "-p", f"{INTEGER.name}s=100"], f"unknown hyperparameter(s) {INTEGER.name}s"),
    ("p-too-long", [*TRAIN_WITH, "-p", f"{INTEGER.name}=" + "1" * 2501], "at most 2500"),
    # What the version the run registers could not record in its metadata (CustomerMetadataProperties).
    ("p-metadata-value", [*TRAIN_WITH, "-p", f"{INTEGER.name}=" + "1" * 257], f"{INTEGER.name}: the value has 257"),
    ("p-metadata-character", [*TRAIN_WITH, "-p", f"{INTEGER.name}=100\t"], f"{INTEGER.name}: the value holds '\\t'"),
    ("p-metadata-name", [*TRAIN_WITH, "-p", "n" * 129 + "=1"], "the name has 129 characters, 1 to 128 are allowed"),
    (
        "p-twice",
        [*TRAIN_WITH, "-p", f"{INTEGER.name}=2000", "-p", f"{INTEGER.name}=2001"],
        f"{INTEGER.name} is given twice",
    ),
    ("file-missing-option", ["invoke", *ENV], "--file"),
    ("file-does-not-exist", ["invoke", *ENV, "--file", "{missing}"], "No such file or directory"),
    ("file-directory", ["invoke", *ENV, "--file", "{dir}"], "not a regular file"),
    ("file-empty", ["invoke", *ENV, "--file", "{empty}"], "has 0 bytes"),
    ("file-too-large", ["invoke", *ENV, "--file", "{large}"], "a request has 1 to 6291456"),
    ("file-unknown-type", ["invoke", *ENV, "--file", "{unknown}"], "--content-type"),
    ("type-empty", [*INVOKE_WITH, "--content-type", ""], "--content-type"),
    ("type-space", [*INVOKE_WITH, "--content-type", "text/ csv"], "MIME"),
    ("type-unicode", [*INVOKE_WITH, "--content-type", "tëxt/csv"], "MIME"),
    ("smoke-neither", ["smoke", *ENV], "--row --file"),
    ("smoke-both", ["smoke", *ENV, "--row", "1,2", "--file", "{unknown}"], "not allowed with"),
    ("row-empty", ["smoke", *ENV, "--row", ""], "--row"),
    ("row-blank", ["smoke", *ENV, "--row", "  "], "--row"),
    ("row-two-lines", ["smoke", *ENV, "--row", "1,2\n3,4"], "one non-blank CSV line"),
    ("smoke-file-unknown-type", ["smoke", *ENV, "--file", "{unknown}"], "--content-type"),
    ("input-empty", ["transform", *ENV, "--input", ""], "whole bucket"),
    ("input-no-bucket", ["transform", *ENV, "--input", "s3://"], "s3://<bucket>/<prefix>"),
    ("input-bad-bucket", ["transform", *ENV, "--input", "s3://Bucket/x"], "s3://<bucket>/<prefix>"),
    ("input-https", ["transform", *ENV, "--input", "https://bucket/x"], "s3://<bucket>/<prefix>"),
    ("output-not-s3", [*TRANSFORM_WITH, "--output", "out/"], "--output"),
    ("job-name-empty", [*TRANSFORM_WITH, "--job-name", ""], "--job-name"),
    ("job-name-underscore", [*TRANSFORM_WITH, "--job-name", "a_b"], "1-63 letters"),
    ("job-name-too-long", [*TRANSFORM_WITH, "--job-name", "j" * 64], "1-63 letters"),
    ("job-name-unicode", [*TRANSFORM_WITH, "--job-name", "jöb"], "1-63 letters"),
    ("transform-type", [*TRANSFORM_WITH, "--content-type", "csv"], "MIME"),
    ("since-empty", ["logs", *ENV, "--since", ""], "--since"),
    ("since-no-unit", ["logs", *ENV, "--since", "10"], "--since"),
    ("since-unknown-unit", ["logs", *ENV, "--since", "1y"], "--since"),
    ("since-zero", ["logs", *ENV, "--since", "0m"], "from 1s"),
    ("since-negative", ["logs", *ENV, "--since", "-1m"], "--since"),
    ("since-beyond-retention", ["logs", *ENV, "--since", "3654d"], "the longest log retention"),
    ("since-overflow", ["logs", *ENV, "--since", "99999999999999d"], "--since"),
    ("since-unicode-digit", ["logs", *ENV, "--since", "٣m"], "--since"),
    ("limit-zero", ["logs", *ENV, "--limit", "0"], "from 1 to 100000"),
    ("limit-negative", ["logs", *ENV, "--limit", "-1"], "--limit"),
    ("limit-fraction", ["logs", *ENV, "--limit", "1.5"], "--limit"),
    ("limit-huge", ["logs", *ENV, "--limit", "100001"], "--limit"),
    ("limit-unicode-digit", ["logs", *ENV, "--limit", "٣"], "--limit"),
    ("job-empty", ["logs", *ENV, "--job", ""], "--job"),
    ("job-underscore", ["logs", *ENV, "--job", "run_1"], "1-63 letters"),
    ("kind-unknown", ["logs", *ENV, "--job", "j", "--kind", "tuning"], "--kind"),
    ("kind-without-job", ["logs", *ENV, "--kind", "training"], "--kind: applies to --job only"),
    ("promote-neither", ["promote", *ENV], "--job --execution-arn"),
    ("promote-both", ["promote", *ENV, "--job", "j", "--execution-arn", ARN], "not allowed with"),
    ("promote-job-empty", ["promote", *ENV, "--job", ""], "--job"),
    ("arn-empty", ["promote", *ENV, "--execution-arn", ""], "--execution-arn"),
    ("arn-name-only", ["promote", *ENV, "--execution-arn", "run-1"], "execution ARN"),
    ("arn-short-account", ["promote", *ENV, "--execution-arn", ARN.replace("123456789012", "123")], "execution ARN"),
    ("arn-too-long", ["promote", *ENV, "--execution-arn", ARN + "x" * 250], "execution ARN"),
]


# The algorithm's required choice, where it has one (pytest.param: the row skips without it).
CHOICE_WORST = pytest.param(
    [*TRAIN_WITH, "-p", f"{CHOICE.name if CHOICE else ''}=é{CHOICES[0]}"],
    f"{CHOICE.name if CHOICE else ''} must be one of {', '.join(CHOICES)}",
    id="p-unicode-choice",
    marks=pytest.mark.skipif(CHOICE is None, reason="the algorithm has no required hyperparameter with choices"),
)


@pytest.mark.parametrize(("argv", "named"), [*cases(*WORST), CHOICE_WORST])
def test_a_worst_value_exits_2_with_one_line_naming_it(
    argv: list[str], named: str, files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a command line with one bad value WHEN it runs
    code, err, out = run(capsys, *[part.format(**files) for part in argv])
    # THEN it exits 2 before any AWS call, with one line saying what is wrong, and prints no result
    assert code == USAGE
    assert len(err) == 1, err
    assert err[0].startswith("error: ")
    assert named in err[0]
    assert "Traceback" not in err[0]
    assert out == ""


def test_every_numeric_option_s_help_says_the_bounds_its_type_enforces() -> None:
    # GIVEN every command's options WHEN their help is read
    parser = build_parser()
    (commands,) = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    numeric = {
        (name, action.dest): str(action.help) % {"default": action.default}
        for name, command in commands.choices.items()
        for action in command._actions
        if isinstance(action.type, arguments.Bounded)
    }
    # THEN each numeric option says its default and what its type accepts, e.g. --limit's upper bound
    assert {dest for _, dest in numeric} == {"timeout", "poll_seconds", "limit", "capacity_wait"}
    assert numeric["logs", "limit"] == "at most this many events (default 1000; a whole number from 1 to 100000)"
    assert numeric["status", "poll_seconds"].endswith("(default 15; a number of seconds from 0.01 to 3600)")


def test_with_json_a_usage_error_is_the_one_json_document(capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN --json WHEN the arguments are bad (at parsing, and once the configuration is read)
    for argv in (["status", *ENV, "--timeout", "-5"], ["train", *ENV, "--data-prefix", "d", "-p", f"{INTEGER.name}=x"]):
        code, document = run_json(capsys, *argv)
        # THEN stdout holds one document with the code and the line
        assert code == USAGE
        assert document["ok"] is False
        assert document["exit_code"] == USAGE
        assert "--timeout" in document["error"] or f"{INTEGER.name} must be an integer" in document["error"]


def test_a_bad_aws_endpoint_url_in_the_environment_is_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN boto3's own AWS_ENDPOINT_URL set to something that is not a URL
    monkeypatch.setenv("AWS_ENDPOINT_URL", "localhost")
    # WHEN a command runs without --endpoint-url THEN the variable is named, not a botocore traceback
    code, err, _ = run(capsys, "status", *ENV)
    assert code == USAGE
    assert err == [
        "error: environment variable AWS_ENDPOINT_URL must be an http:// or https:// URL with a host, "
        "e.g. http://localhost:5000, got 'localhost'"
    ]


def _config_without(tmp_path: Path, environment: str, name: str) -> Path:
    """The shipped configuration, but `environment` leaves hyperparameter `name` to each execution."""
    raw = tomllib.loads(DEFAULT_CONFIG_FILE.read_text())
    raw["environments"][environment]["training"]["hyperparameters"].pop(name)
    path = tmp_path / "environments.toml"
    path.write_text(to_toml(raw))
    return path


def test_train_needs_what_the_container_requires_from_the_configuration_or_p(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN an environment whose configuration leaves a required hyperparameter to each execution
    required = declared.required().name
    config = _config_without(tmp_path, "staging", required)
    # WHEN training is started without -p <it>=...
    code, err, _ = run(capsys, "train", "--env", "staging", "--config", str(config), "--data-prefix", "d")
    # THEN it is a usage error saying where to give it
    assert code == USAGE
    assert err == [
        f"error: argument --hyperparameter/-p: {required} is required "
        "(give it with -p NAME=VALUE or in training.hyperparameters of environments.staging)"
    ]


def test_every_bad_p_is_named_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN three bad -p values WHEN training is started THEN one line names all three
    bad = {INTEGER.name: str(int(INTEGER.minimum or 0) - 1), FLOAT.name: "-1", **({CHOICE.name: "?"} if CHOICE else {})}
    code, err, _ = run(capsys, "train", *ENV, "--data-prefix", "d", *(f"-p{k}={v}" for k, v in bad.items()))
    assert code == USAGE
    (line,) = err
    for name, value in bad.items():
        with pytest.raises(ValueError) as refused:
            declared.SCHEMA.hyperparameters[name].parse(value)
        assert str(refused.value) in line


def test_a_p_combination_the_container_refuses_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN -p values each valid alone whose combination with dev's configured ones the container refuses
    configured = tomllib.loads(DEFAULT_CONFIG_FILE.read_text())["environments"]["dev"]["training"]["hyperparameters"]
    combination = None
    for rule in declared.SCHEMA.rules:
        values = declared.optional(partial(declared.breaking, rule, configured))
        if values is not None and set(values) >= set(configured):  # -p adds or replaces; it cannot leave one out
            combination = {name: value for name, value in values.items() if configured.get(name) != value}
            break
    if combination is None:
        pytest.skip(f"the algorithm {declared.ALGORITHM.name} has no rule -p values alone can break")
    code, err, _ = run(capsys, "train", *ENV, "--data-prefix", "d", *(f"-p{k}={v}" for k, v in combination.items()))
    # THEN nothing starts: one line names the broken rule
    assert code == USAGE
    (line,) = err
    for problem in declared.SCHEMA.problems(configured | combination, complete=True):
        assert problem in line


def test_a_request_is_held_to_invoke_endpoints_own_limit() -> None:
    # GIVEN botocore's sagemaker-runtime model WHEN the CLI's request limit is read THEN it is the API's 6 MB
    assert arguments.max_request_bytes() == 6 * 1024 * 1024


def test_the_docs_state_the_limits_the_cli_checks() -> None:
    # GIVEN docs/operations.md's table of arguments WHEN read THEN its numbers are the ones arguments.py enforces
    docs = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    assert f"0.01 s to {arguments.MAX_WAIT_SECONDS // 86400} days" in docs
    assert f"{arguments.MIN_POLL_SECONDS:g} s to {arguments.MAX_POLL_SECONDS:g} s" in docs
    assert f"1 byte to {arguments.max_request_bytes() // 2**20} MB" in docs
    assert f"from 1 s to {arguments.MAX_SINCE.days} days" in docs
    assert f"1 to {arguments.MAX_LOG_EVENTS} events" in docs
