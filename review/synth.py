"""Synthesize a source tree as `cdk synth` does, pick and extract the base revision, read assemblies."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from review.model import Templates

# The repository this package belongs to: the head of a review is its working tree.
ROOT = Path(__file__).resolve().parent.parent
# The Python and Node.js of the project's virtual environment synthesize base and head alike.
BIN = Path(sys.executable).parent

# What the CDK CLI adds to cdk.json's context when it runs the app. Path metadata names each
# resource's construct (shown in the report, usable in acknowledgments); version reporting is left
# off, and its CDKMetadata resource ignored, because it changes with library versions, not intent.
CLI_CONTEXT = {"aws:cdk:enable-path-metadata": True, "aws:cdk:enable-asset-metadata": True}


class SynthError(RuntimeError):
    """A tree could not be synthesized; the message says which and why."""


class NoAppError(SynthError):
    """The tree has no app.py (a revision from before the app existed)."""


class RevisionError(ValueError):
    """A git reference that does not name a commit of this repository."""


def _git(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    # Fixed program, arguments from this module: nothing reaches a shell.
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=check)  # noqa: S603, S607


def _git_bytes(root: Path, *args: str) -> bytes:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, check=True).stdout  # noqa: S603, S607


def _commit(root: Path, ref: str) -> str | None:
    result = _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
    return result.stdout.strip() or None


def resolve_ref(root: Path, ref: str) -> str:
    commit = _commit(root, ref)
    if commit is None:
        raise RevisionError(f"--base {ref!r}: not a commit of the repository at {root}")
    return commit


def _working_tree_matches(root: Path, commit: str) -> bool:
    """Whether the working tree (tracked and untracked files) holds exactly the commit's tree."""
    if _git(root, "diff", "--quiet", commit, "--", check=False).returncode != 0:
        return False
    return not _git(root, "ls-files", "--others", "--exclude-standard").stdout.strip()


@dataclass(frozen=True)
class Base:
    commit: str | None
    why: str


def default_base(root: Path = ROOT) -> Base:
    """The merge base with main (origin/main if present); its parent if that is the tree under review.

    Locally this compares a branch or uncommitted work with what main has; in CI on main, where the
    working tree is the merge base, it compares the last commit with the one before. No commit to
    compare with (first commit, shallow clone, no git) gives `Base(None, why)`.
    """
    if _git(root, "rev-parse", "--is-inside-work-tree", check=False).returncode != 0:
        return Base(None, f"{root} is not a git work tree")
    head = _commit(root, "HEAD")
    if head is None:
        return Base(None, "the repository has no commit yet")
    main = next((ref for ref in ("origin/main", "main") if _commit(root, ref)), None)
    merge_base = _git(root, "merge-base", "HEAD", main, check=False).stdout.strip() if main else ""
    candidate, why = (merge_base, f"merge base of HEAD and {main}") if merge_base else (head, "HEAD")
    if not _working_tree_matches(root, candidate):
        return Base(candidate, why)
    parent = _commit(root, f"{candidate}~1")
    if parent is None:
        return Base(None, f"the working tree is {why} ({candidate[:12]}), which has no parent in this clone")
    return Base(parent, f"parent of {why}, which is the working tree")


def extract_revision(root: Path, commit: str, destination: Path) -> None:
    """Write the commit's tree into `destination` (git archive: nothing in the repository changes)."""
    archive = _git_bytes(root, "archive", "--format=tar", commit)
    destination.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        safe_extract(tar, destination)
    # The base is synthesized with this checkout's tools: the same .venv, and these node_modules.
    if (ROOT / "node_modules").is_dir():
        (destination / "node_modules").symlink_to(ROOT / "node_modules", target_is_directory=True)


class UnsafeArchiveError(ValueError):
    """An archive member would land outside the destination, or is not a plain file, folder or link."""


# TarFile.extractall(filter=...) arrived in 3.11.4 (and 3.12); the README's floor is 3.11.0.
HAS_EXTRACTION_FILTER = hasattr(tarfile, "data_filter")


def safe_extract(tar: tarfile.TarFile, destination: Path, *, use_filter: bool = HAS_EXTRACTION_FILTER) -> None:
    """Extract `tar` into `destination`, refusing what the "data" filter refuses, on every Python.

    With the standard library's "data" filter (3.11.4+) it does the work. Before, each member is
    checked against what is on disk at that moment, as the filter does, then extracted: no absolute
    name, no name or link resolving outside `destination` (through links extracted before it too),
    no device, FIFO or other special file; files keep no set-id bits and the archive's owner is not
    applied. Raises UnsafeArchiveError at the first such member.
    """
    if use_filter:
        try:
            tar.extractall(destination, filter="data")
        except tarfile.FilterError as error:
            raise UnsafeArchiveError(f"archive member {error.tarinfo.name!r}: {error}") from error
        return
    root = Path(os.path.realpath(destination))
    for member in tar:
        _check_member(member, root)
        if member.isfile() or member.isdir():
            member.mode = (member.mode & 0o777) | 0o200
        # Owned by whoever extracts (tarfile applies the archive's owner when run as root).
        member.uid, member.gid, member.uname, member.gname = os.getuid(), os.getgid(), "", ""
        tar.extract(member, root)


def _check_member(member: tarfile.TarInfo, root: Path) -> None:
    name = member.name
    if PurePosixPath(name).is_absolute() or name.startswith("\\"):
        raise UnsafeArchiveError(f"archive member {name!r} has an absolute name")
    target = Path(os.path.realpath(root / name))
    if not target.is_relative_to(root):
        raise UnsafeArchiveError(f"archive member {name!r} would be written outside {root}")
    if member.issym() or member.islnk():
        link = member.linkname
        if PurePosixPath(link).is_absolute():
            raise UnsafeArchiveError(f"archive member {name!r} links to the absolute path {link!r}")
        # A symbolic link is relative to its own folder, a hard link to the archive's root.
        base = (root / name).parent if member.issym() else root
        if not Path(os.path.realpath(base / link)).is_relative_to(root):
            raise UnsafeArchiveError(f"archive member {name!r} links to {link!r}, outside {root}")
    elif not (member.isfile() or member.isdir()):
        raise UnsafeArchiveError(f"archive member {name!r} is a device, FIFO or other special file")


def add_missing_files(root: Path, destination: Path) -> list[str]:
    """Copy the working tree's files (tracked or untracked, not ignored) that `destination` lacks."""
    listing = _git(root, "ls-files", "--cached", "--others", "--exclude-standard", "-z").stdout
    added = []
    for name in sorted(set(filter(None, listing.split("\0")))):
        target = destination / name
        if (root / name).is_file() and not target.exists() and not target.is_symlink():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, target)
            added.append(name)
    return added


def cdk_context(source: Path) -> dict[str, Any]:
    cdk_json = source / "cdk.json"
    context: dict[str, Any] = json.loads(cdk_json.read_text())["context"] if cdk_json.exists() else {}
    return CLI_CONTEXT | context


def synthesize(source: Path, outdir: Path, *, what: str) -> None:
    """Run `source/app.py` as the CDK CLI does, into `outdir`, with this virtual environment.

    Credentials and CDK settings of the caller's environment are left out, so that base and head
    synthesize alike, offline, whoever runs the review.
    """
    if not (source / "app.py").exists():
        raise NoAppError(f"{what} has no app.py: there is no CDK app to synthesize")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CDK_", "AWS_", "PYTHONPATH"))}
    env |= {
        "CDK_OUTDIR": str(outdir),
        "CDK_CONTEXT_JSON": json.dumps(cdk_context(source)),
        "PATH": os.pathsep.join([str(BIN), str(ROOT / "node_modules" / ".bin"), env.get("PATH", "")]),
    }
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=source, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        detail = "\n".join(lines[-15:])
        raise SynthError(f"{what} failed to synthesize (exit {result.returncode}):\n{detail}")


@dataclass(frozen=True)
class StackInfo:
    environment: str
    stack: str  # CloudFormation stack name
    display_name: str


def read_assemblies(outdir: Path) -> tuple[Templates, dict[tuple[str, str], StackInfo]]:
    """Templates of every `assembly-<Stage>/` under a cloud assembly directory (such as cdk.out)."""
    assemblies = sorted(path for path in outdir.glob("assembly-*") if path.is_dir())
    if not assemblies:
        raise FileNotFoundError(f"{outdir}: no assembly-*/ directory (expected the output of `cdk synth`)")
    templates: Templates = {}
    info: dict[tuple[str, str], StackInfo] = {}
    for assembly in assemblies:
        environment = assembly.name.removeprefix("assembly-")
        stacks = templates.setdefault(environment, {})
        for name, display, template_file in _stacks(assembly):
            stacks[name] = _without_cdk_metadata(json.loads((assembly / template_file).read_text()))
            info[environment, name] = StackInfo(environment, name, display)
    return templates, info


def _stacks(assembly: Path) -> list[tuple[str, str, str]]:
    """(stack name, display name, template file) from the manifest, or from the file names."""
    manifest = assembly / "manifest.json"
    if not manifest.exists():
        return [
            (path.name.removesuffix(".template.json"),) * 2 + (path.name,) for path in assembly.glob("*.template.json")
        ]
    artifacts: dict[str, Any] = json.loads(manifest.read_text()).get("artifacts", {})
    return [
        (
            properties.get("stackName", artifact_id),
            artifact.get("displayName", artifact_id),
            properties["templateFile"],
        )
        for artifact_id, artifact in artifacts.items()
        if artifact.get("type") == "aws:cloudformation:stack"
        for properties in [artifact.get("properties", {})]
    ]


def _without_cdk_metadata(template: dict[str, Any]) -> dict[str, Any]:
    """The template without the CLI's version-reporting resource (and its condition)."""
    resources = {k: v for k, v in template.get("Resources", {}).items() if v.get("Type") != "AWS::CDK::Metadata"}
    conditions = {k: v for k, v in template.get("Conditions", {}).items() if k != "CDKMetadataAvailable"}
    result = {k: v for k, v in template.items() if k != "Conditions"} | {"Resources": resources}
    return result | ({"Conditions": conditions} if conditions else {})
