"""The project's one exit-code table: what `python -m sagemaker_ops` and `python -m review` return.

Scripts and CI branch on these numbers, so a number means the same thing whichever tool returns it.
docs/operations.md shows `markdown_table()`; a test keeps the two identical.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """Why a command ended (the process's exit status)."""

    OK = 0
    FAILED = 1
    USAGE = 2
    AWS_ERROR = 3
    TIMED_OUT = 4
    SYNTH_FAILED = 5


@dataclass(frozen=True)
class Meaning:
    """What an exit code says, and which tools return it."""

    text: str
    returned_by: tuple[str, ...]


OPS = "sagemaker_ops"
REVIEW = "review"

MEANINGS: dict[ExitCode, Meaning] = {
    ExitCode.OK: Meaning(
        "success: the check passed, the job succeeded, the pin is printed, or the review found no policy "
        "violation (or had no base to compare with)",
        (OPS, REVIEW),
    ),
    ExitCode.FAILED: Meaning(
        "a check failed: smoke; a job or execution failed or was stopped (train, transform); the model "
        "cannot be promoted (promote); a stateful resource would be replaced or deleted in staging or prod "
        "without acknowledgment (review)",
        (OPS, REVIEW),
    ),
    ExitCode.USAGE: Meaning(
        "usage or configuration error: unknown option, bad argument value, unreadable file, bad hyperparameter, "
        "unknown `--profile`, bad acknowledgment file, unknown `BASE`, unreadable `--base-dir`",
        (OPS, REVIEW),
    ),
    ExitCode.AWS_ERROR: Meaning(
        "AWS error or not deployed: a stack, output, endpoint, job or execution does not exist, access denied, "
        "no or expired credentials, the endpoint cannot be reached",
        (OPS,),
    ),
    ExitCode.TIMED_OUT: Meaning("gave up waiting after `--timeout` seconds; the job is still running", (OPS,)),
    ExitCode.SYNTH_FAILED: Meaning(
        "the base or the working tree failed to synthesize (or the base has no `app.py`); the error says which",
        (REVIEW,),
    ),
}


def codes_of(tool: str) -> dict[int, str]:
    """The codes `tool` returns and what each means, for its `--help`."""
    return {int(code): meaning.text for code, meaning in MEANINGS.items() if tool in meaning.returned_by}


def help_epilog(tool: str) -> str:
    """`exit codes:` and one indented line per code `tool` returns."""
    return "exit codes:\n" + "\n".join(f"  {code}  {text}" for code, text in codes_of(tool).items())


def markdown_table(codes: Iterable[ExitCode] = ExitCode) -> str:
    """The table docs/operations.md shows."""
    rows = [
        f"| {int(code)} | `{code.name}` | {MEANINGS[code].text} | {', '.join(MEANINGS[code].returned_by)} |"
        for code in codes
    ]
    return "\n".join(["| exit code | name | meaning | returned by |", "| --- | --- | --- | --- |", *rows])
