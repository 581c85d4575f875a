"""`python -m delivery.review_comment`: one review comment per pull request, the summary, the failure's words."""

from __future__ import annotations

import json
import urllib.error
from collections.abc import Mapping
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from delivery.review_comment import (
    API_FAILED,
    BOT_LOGIN,
    MARKER,
    MAX_COMMENT_CHARS,
    OK,
    USAGE,
    comment_body,
    main,
    verdict,
)

API = "https://api.github.com"
REPORT = (
    "## CloudFormation review\n\n`abc` → `working tree`\n\n"
    "**❌ 1 stateful resource change(s) need an acknowledgment: prod/Bucket.**\n"
)


class FakeGitHub:
    """The issue-comments API of one pull request, in memory; `fail` answers every call with that status."""

    def __init__(self, comments: list[dict[str, Any]] | None = None, fail: int | None = None) -> None:
        self.comments = comments or []
        self.calls: list[tuple[str, str]] = []
        self.fail = fail

    def __call__(self, method: str, url: str, body: Mapping[str, Any] | None) -> Any:
        self.calls.append((method, url))
        if self.fail:
            raise urllib.error.HTTPError(url, self.fail, "Forbidden", Message(), None)
        if method == "GET":
            page = int(url.rsplit("page=", 1)[1])
            return self.comments[(page - 1) * 100 : page * 100]
        assert body is not None
        if method == "POST":
            self.comments.append({"id": 1000 + len(self.comments), "user": {"login": BOT_LOGIN}, "body": body["body"]})
            return self.comments[-1]
        comment_id = int(url.rsplit("/", 1)[1])
        (comment,) = [c for c in self.comments if c["id"] == comment_id]
        comment["body"] = body["body"]
        return comment


@pytest.fixture
def workspace(tmp_path: Path) -> dict[str, Path]:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 17}}))
    report = tmp_path / "review.md"
    report.write_text(REPORT)
    return {"event": event, "report": report, "summary": tmp_path / "summary.md"}


def _environ(workspace: dict[str, Path], **extra: str) -> dict[str, str]:
    return {
        "GITHUB_TOKEN": "t0ken",
        "GITHUB_REPOSITORY": "example-org/sagemaker-gbdt",
        "GITHUB_EVENT_PATH": str(workspace["event"]),
        "GITHUB_STEP_SUMMARY": str(workspace["summary"]),
        "GITHUB_API_URL": API,
        **extra,
    }


def _run(workspace: dict[str, Path], github: FakeGitHub, **extra: str) -> int:
    return main(["--report", str(workspace["report"])], environ=_environ(workspace, **extra), transport=github)


def test_the_first_push_creates_the_comment_and_writes_the_summary(workspace: dict[str, Path]) -> None:
    # GIVEN a pull request without a review comment
    github = FakeGitHub([{"id": 1, "user": {"login": "octocat"}, "body": "Looks good"}])
    # WHEN the review is published
    assert _run(workspace, github) == OK
    # THEN one comment is added, starting with the marker, and the job summary holds the report
    assert [c["body"] for c in github.comments[1:]] == [f"{MARKER}\n{REPORT}"]
    assert workspace["summary"].read_text() == REPORT


def test_every_later_push_updates_that_same_comment(workspace: dict[str, Path]) -> None:
    # GIVEN the review was published once
    github = FakeGitHub()
    assert _run(workspace, github) == OK
    # WHEN two more pushes publish changed reports
    for text in ("second", "third"):
        workspace["report"].write_text(text)
        assert _run(workspace, github) == OK
    # THEN there is still one comment, with the last report
    assert [c["body"] for c in github.comments] == [f"{MARKER}\nthird"]
    assert [method for method, _ in github.calls if method != "GET"] == ["POST", "PATCH", "PATCH"]


def test_a_persons_comment_quoting_the_marker_is_left_alone(workspace: dict[str, Path]) -> None:
    # GIVEN a reviewer pasted the bot's comment, marker included, into a comment of their own
    github = FakeGitHub([{"id": 5, "user": {"login": "octocat"}, "body": f"{MARKER}\nquoted"}])
    # WHEN the review is published THEN the bot creates its own comment instead of editing theirs
    assert _run(workspace, github) == OK
    assert github.comments[0]["body"] == f"{MARKER}\nquoted"
    assert len(github.comments) == 2


def test_the_comment_is_found_beyond_the_first_page(workspace: dict[str, Path]) -> None:
    # GIVEN a long discussion: the bot's comment is the 150th
    others = [{"id": i, "user": {"login": "octocat"}, "body": "hm"} for i in range(149)]
    github = FakeGitHub([*others, {"id": 999, "user": {"login": BOT_LOGIN}, "body": f"{MARKER}\nold"}])
    assert _run(workspace, github) == OK
    assert github.comments[-1]["body"] == f"{MARKER}\n{REPORT}"
    assert ("PATCH", f"{API}/repos/example-org/sagemaker-gbdt/issues/comments/999") in github.calls


def test_a_failed_review_repeats_the_reports_verdict_as_an_error(
    workspace: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the review step failed on a blocked replacement
    assert _run(workspace, FakeGitHub(), REVIEW_OUTCOME="failure") == OK
    # THEN the check's annotation says what the report says
    out = capsys.readouterr().out
    assert "::error title=CloudFormation review::❌ 1 stateful resource change(s) need an acknowledgment" in out


def test_a_missing_report_replaces_the_old_comment_instead_of_leaving_it_current(
    workspace: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a green report from an earlier push, then a push whose review crashed before writing one
    github = FakeGitHub([{"id": 7, "user": {"login": BOT_LOGIN}, "body": f"{MARKER}\n**✅ all good**"}])
    workspace["report"].unlink()
    # WHEN it is published
    assert _run(workspace, github, REVIEW_OUTCOME="failure") == OK
    # THEN the comment now says there is no report, and so does the annotation
    assert "did not produce a report (failure)" in github.comments[0]["body"]
    assert "✅" not in github.comments[0]["body"]
    assert "::error title=CloudFormation review::The review did not produce a report" in capsys.readouterr().out


def test_a_push_to_main_writes_only_the_summary(workspace: dict[str, Path]) -> None:
    workspace["event"].write_text(json.dumps({"ref": "refs/heads/main"}))
    github = FakeGitHub()
    assert _run(workspace, github) == OK
    assert github.calls == []
    assert workspace["summary"].read_text() == REPORT


def test_a_read_only_token_warns_and_keeps_the_summary(
    workspace: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a pull request from a fork: GitHub gives it a read-only token
    assert _run(workspace, FakeGitHub(fail=403)) == OK
    assert "::warning title=CloudFormation review::no permission to comment" in capsys.readouterr().out
    assert workspace["summary"].read_text() == REPORT


def test_any_other_api_error_fails(workspace: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(workspace, FakeGitHub(fail=502)) == API_FAILED
    assert "GitHub answered 502" in capsys.readouterr().err


def test_without_token_it_says_what_is_missing(workspace: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    environ = _environ(workspace)
    del environ["GITHUB_TOKEN"]
    assert main(["--report", str(workspace["report"])], environ=environ, transport=FakeGitHub()) == USAGE
    assert "GITHUB_TOKEN and GITHUB_REPOSITORY must be set" in capsys.readouterr().err


def test_the_token_is_never_sent_to_a_plain_http_url(workspace: dict[str, Path]) -> None:
    # GIVEN an API URL that is not https (a misconfigured runner) WHEN publishing with the real transport
    environ = _environ(workspace, GITHUB_API_URL="http://api.example.test")
    # THEN nothing is sent and it fails
    assert main(["--report", str(workspace["report"])], environ=environ) == API_FAILED


def test_a_huge_report_is_cut_to_githubs_limit_saying_where_the_rest_is() -> None:
    body = comment_body("x" * 200_000)
    assert len(body) <= MAX_COMMENT_CHARS
    assert body.startswith(MARKER)
    assert body.endswith("in the `cdk.out` artifact of this run.\n")


def test_the_verdict_is_the_reports_bold_line() -> None:
    assert verdict(REPORT) == "❌ 1 stateful resource change(s) need an acknowledgment: prod/Bucket."
    assert verdict("## CloudFormation review\n\nNo base: first commit.\n") == "## CloudFormation review"
    assert verdict("") == "empty report"
