"""`python -m review`: what CloudFormation would replace, per environment, between a base and the working tree.

Exit codes are the project's (`config.exit_codes`, docs/operations.md): 0 no policy violation (or no
base to compare with), 1 a stateful resource replaced or deleted in staging/prod without
acknowledgment, 2 usage or configuration error, 5 synthesis failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from config.exit_codes import REVIEW, ExitCode, help_epilog
from review.diff import DiffError, review_templates
from review.model import Review
from review.policy import DEFAULT_ACKNOWLEDGMENTS, Acknowledgment, AcknowledgmentError, load_acknowledgments
from review.report import to_json, to_markdown, verdict_line
from review.synth import (
    ROOT,
    NoAppError,
    RevisionError,
    SynthError,
    add_missing_files,
    default_base,
    extract_revision,
    read_assemblies,
    resolve_ref,
    synthesize,
)

OK, VIOLATION, USAGE, SYNTH_FAILED = ExitCode.OK, ExitCode.FAILED, ExitCode.USAGE, ExitCode.SYNTH_FAILED


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m review",
        description=__doc__.splitlines()[0],
        epilog=help_epilog(REVIEW),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    base = parser.add_mutually_exclusive_group()
    base.add_argument("--base", metavar="REF", help="git revision to compare with (default: merge base with main)")
    base.add_argument("--base-dir", metavar="DIR", type=Path, help="a previous cdk.out (assembly-*/) to compare with")
    parser.add_argument(
        "--head-dir", metavar="DIR", type=Path, help="a cdk.out to review instead of synthesizing the working tree"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    parser.add_argument("--output", metavar="FILE", type=Path, help="write the report to FILE instead of stdout")
    parser.add_argument(
        "--acknowledgments",
        metavar="FILE",
        type=Path,
        default=DEFAULT_ACKNOWLEDGMENTS,
        help="reviewed allow-list (default: review/acknowledgments.toml)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, *, root: Path = ROOT) -> int:
    args = _arguments(argv)
    try:
        acknowledgments = load_acknowledgments(args.acknowledgments)
        base_commit, base_name = _base(args, root)
    except (AcknowledgmentError, RevisionError) as error:
        sys.stderr.write(f"review: {error}\n")
        return USAGE
    if base_commit is None and args.base_dir is None:
        message = f"No base: {base_name}. Nothing to compare with."
        if args.json:
            _emit(args, json.dumps({"base": None, "note": message, "exit_code": OK}) + "\n", None)
        else:
            _emit(args, f"## CloudFormation review\n\n{message}\n", None)
        return OK
    with tempfile.TemporaryDirectory(prefix="review-") as scratch:
        try:
            review = _review(
                args=args,
                root=root,
                scratch=Path(scratch),
                base_commit=base_commit,
                base_name=base_name,
                acknowledgments=acknowledgments,
            )
        except SynthError as error:
            sys.stderr.write(f"review: {error}\n")
            return SYNTH_FAILED
        except (FileNotFoundError, DiffError) as error:
            sys.stderr.write(f"review: {error}\n")
            return USAGE
    code = VIOLATION if review.blocked else OK
    _emit(args, to_json(review, code) if args.json else to_markdown(review), review)
    return code


def _base(args: argparse.Namespace, root: Path) -> tuple[str | None, str]:
    if args.base_dir is not None:
        return None, str(args.base_dir)
    if args.base is not None:
        commit = resolve_ref(root, args.base)
        return commit, f"{args.base} ({commit[:12]})"
    base = default_base(root)
    return base.commit, base.why if base.commit is None else f"{base.commit[:12]} ({base.why})"


def _review(
    *,
    args: argparse.Namespace,
    root: Path,
    scratch: Path,
    base_commit: str | None,
    base_name: str,
    acknowledgments: tuple[Acknowledgment, ...],
) -> Review:
    notes: list[str] = []

    def synth_base() -> Path:
        if base_commit is None:
            return Path(args.base_dir)
        source, outdir = scratch / "base-src", scratch / "base.out"
        extract_revision(root, base_commit, source)
        what = f"base revision {base_name}"
        try:
            synthesize(source, outdir, what=what)
        except NoAppError:
            raise
        except SynthError as error:
            # A revision that never synthesized on its own, because files it needs were not
            # committed with it (an asset folder added later, say), is retried with the working
            # tree's copies of the files it lacks; the report says so. It leaves nothing to compare
            # in those files, which the base did not have anyway.
            added = add_missing_files(root, source)
            if not added:
                raise
            outdir = scratch / "base-retried.out"
            synthesize(source, outdir, what=what)
            folders = Counter(name.split("/")[0] + ("/" if "/" in name else "") for name in added)
            shown = ", ".join(
                f"{folder} ({count} file{'s' * (count > 1)})" for folder, count in sorted(folders.items())
            )
            cause = str(error).splitlines()[-1].strip().replace(str(source), ".")
            notes.append(
                f"The base did not synthesize on its own ({cause}); "
                f"it was synthesized with the files it lacks taken from the working tree: {shown}."
            )
        return outdir

    def synth_head() -> Path:
        if args.head_dir is not None:
            return Path(args.head_dir)
        outdir = scratch / "head.out"
        synthesize(root, outdir, what="the working tree")
        return outdir

    with ThreadPoolExecutor(max_workers=2) as pool:
        base_future, head_future = pool.submit(synth_base), pool.submit(synth_head)
        head_dir = head_future.result()
        base_dir = base_future.result()
    base_templates, base_info = read_assemblies(base_dir)
    head_templates, head_info = read_assemblies(head_dir)
    display = {key: info.display_name for key, info in (base_info | head_info).items()}
    return review_templates(
        base_templates,
        head_templates,
        acknowledgments,
        base_name=base_name,
        head_name=str(args.head_dir) if args.head_dir else "working tree",
        display_names=display,
        notes=tuple(notes),
    )


def _emit(args: argparse.Namespace, text: str, review: Review | None) -> None:
    if args.output is None:
        sys.stdout.write(text)
        return
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    summary = verdict_line(review) if review else "no base, nothing to compare with."
    sys.stdout.write(f"review: {summary} Report: {args.output}\n")


if __name__ == "__main__":
    sys.exit(main())
