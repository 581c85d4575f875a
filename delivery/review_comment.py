"""`python -m delivery.review_comment`: publish the CloudFormation review of a pull request.

    python -m delivery.review_comment --report cdk.out/review.md    # what `make comment` runs

In GitHub Actions it (1) appends the report to the job summary, (2) keeps ONE comment on the pull
request, the bot's comment that starts with MARKER, updated on every push instead of adding one
each time, and (3) when the review step failed (REVIEW_OUTCOME=failure) repeats the report's
verdict as an error annotation, so the failed check says why. Without a pull request (a push to
main) only the summary is written. A missing report (the review did not run to the end) is
published as such, so an earlier report never stays up looking current.

Reads GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_EVENT_PATH, GITHUB_API_URL, GITHUB_STEP_SUMMARY and
REVIEW_OUTCOME, all set by GitHub Actions (the workflow passes the token and the outcome).
Exit codes: 0 published (or nothing to publish to), 1 the GitHub API refused or failed, 2 usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

# Hidden first line of the comment: how the next run finds it.
MARKER = "<!-- cloudformation-review -->"
# The author of comments made with a workflow's GITHUB_TOKEN. Only its comments are updated: a
# person quoting the marker keeps their comment.
BOT_LOGIN = "github-actions[bot]"
# GitHub refuses comment bodies over 65,536 characters.
MAX_COMMENT_CHARS = 65_000
TRUNCATED = "\n\n… truncated: the whole report is in the job summary and in the `cdk.out` artifact of this run.\n"
MISSING = (
    "## CloudFormation review\n\n**The review did not produce a report ({outcome}): see the log of the job "
    "`review` in this run.**\n"
)
OK, API_FAILED, USAGE = 0, 1, 2

# (method, url, JSON body or None) -> decoded JSON answer; raises urllib.error.HTTPError.
Transport = Callable[[str, str, Mapping[str, Any] | None], Any]


def main(
    argv: Sequence[str] | None = None, *, environ: Mapping[str, str] = os.environ, transport: Transport | None = None
) -> int:
    parser = argparse.ArgumentParser(prog="python -m delivery.review_comment", description=__doc__.splitlines()[0])
    parser.add_argument("--report", type=Path, required=True, help="the Markdown report of `python -m review`")
    args = parser.parse_args(argv)
    outcome = environ.get("REVIEW_OUTCOME", "success")
    body = _body(args.report, outcome)
    summary = environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with Path(summary).open("a", encoding="utf-8") as file:
            file.write(body)
    if outcome == "failure":
        sys.stdout.write(f"::error title=CloudFormation review::{_escape(verdict(body))}\n")
    number = pull_request_number(environ.get("GITHUB_EVENT_PATH"))
    if number is None:
        where = (
            "in the job summary only" if summary else f"not published (no pull request, no job summary): {args.report}"
        )
        sys.stdout.write(f"review comment: not a pull request; the report is {where}\n")
        return OK
    token, repository = environ.get("GITHUB_TOKEN"), environ.get("GITHUB_REPOSITORY")
    if not token or not repository:
        sys.stderr.write("review comment: GITHUB_TOKEN and GITHUB_REPOSITORY must be set to comment\n")
        return USAGE
    api = environ.get("GITHUB_API_URL", "https://api.github.com")
    send = transport or _https_transport(token)
    try:
        action = upsert_comment(send, api=api, repository=repository, number=number, body=comment_body(body))
    except urllib.error.HTTPError as error:
        if error.code == 403:
            # Pull requests from forks get a read-only token: the summary has the report.
            sys.stdout.write(
                "::warning title=CloudFormation review::no permission to comment (a pull request from a fork?); "
                "the report is in the job summary\n"
            )
            return OK
        sys.stderr.write(f"review comment: GitHub answered {error.code} {error.reason}\n")
        return API_FAILED
    except urllib.error.URLError as error:
        sys.stderr.write(f"review comment: cannot reach {api}: {error.reason}\n")
        return API_FAILED
    sys.stdout.write(f"review comment: {action} on pull request #{number}\n")
    return OK


def _body(report: Path, outcome: str) -> str:
    try:
        return report.read_text(encoding="utf-8")
    except FileNotFoundError:
        return MISSING.format(outcome=outcome)


def verdict(report: str) -> str:
    """The report's verdict: its first bold line (`**...**`), else its first non-empty line."""
    lines = [line.strip() for line in report.splitlines() if line.strip()]
    bold = next((line for line in lines if line.startswith("**") and line.endswith("**")), None)
    return (bold or (lines[0] if lines else "empty report")).strip("*")


def comment_body(report: str) -> str:
    text = f"{MARKER}\n{report}"
    if len(text) <= MAX_COMMENT_CHARS:
        return text
    return text[: MAX_COMMENT_CHARS - len(TRUNCATED)] + TRUNCATED


def pull_request_number(event_path: str | None) -> int | None:
    """The pull request's number from the event GitHub Actions recorded, or None for other events."""
    if not event_path:
        return None
    event = json.loads(Path(event_path).read_text(encoding="utf-8"))
    pull_request = event.get("pull_request")
    return int(pull_request["number"]) if isinstance(pull_request, dict) else None


def upsert_comment(send: Transport, *, api: str, repository: str, number: int, body: str) -> str:
    """Update the bot's review comment on pull request `number`, or create it; say which."""
    existing = _find_comment(send, api=api, repository=repository, number=number)
    if existing is None:
        send("POST", f"{api}/repos/{repository}/issues/{number}/comments", {"body": body})
        return "created"
    send("PATCH", f"{api}/repos/{repository}/issues/comments/{existing}", {"body": body})
    return "updated"


def _find_comment(send: Transport, *, api: str, repository: str, number: int) -> int | None:
    page = 1
    while True:
        comments = send("GET", f"{api}/repos/{repository}/issues/{number}/comments?per_page=100&page={page}", None)
        for comment in comments:
            if comment.get("user", {}).get("login") == BOT_LOGIN and comment.get("body", "").startswith(MARKER):
                return int(comment["id"])
        if len(comments) < 100:
            return None
        page += 1


def _https_transport(token: str) -> Transport:
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
        "Content-Type": "application/json",
    }

    def send(method: str, url: str, body: Mapping[str, Any] | None) -> Any:
        if not url.startswith("https://"):
            raise urllib.error.URLError(f"refusing to send the token to a non-https URL: {url}")
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310 (https only, above)
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 (https only, above)
            return json.loads(answer.read() or b"null")

    return send


def _escape(text: str) -> str:
    """A workflow command's message: %, CR and LF escaped as GitHub Actions expects."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


if __name__ == "__main__":
    sys.exit(main())
