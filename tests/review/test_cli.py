"""`python -m review` end to end: choosing the base, synthesizing, exit codes, and the real app.

Most tests use a throwaway git repository whose `app.py` writes a cloud assembly from
`templates.json` (as fast as Python starts); one test synthesizes the real app.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from review.__main__ import OK, SYNTH_FAILED, USAGE, VIOLATION, main
from review.synth import default_base, read_assemblies
from tests.helpers import ROOT
from tests.review.builders import app, bucket, template

# A CDK app in miniature: writes assembly-<Environment>/ with a manifest and templates, as `cdk synth` does.
FAKE_APP = """
import json, os, pathlib, sys
if os.environ.get("CDK_CONTEXT_JSON") is None:
    sys.exit("not run as the CDK CLI runs apps")
out = pathlib.Path(os.environ["CDK_OUTDIR"])
for environment, stacks in json.loads(pathlib.Path("templates.json").read_text()).items():
    assembly = out / f"assembly-{environment}"
    assembly.mkdir(parents=True)
    artifacts = {}
    for name, template in stacks.items():
        (assembly / f"{name}.template.json").write_text(json.dumps(template))
        artifacts[name] = {
            "type": "aws:cloudformation:stack",
            "displayName": name.replace("-", "/"),
            "properties": {"templateFile": f"{name}.template.json", "stackName": name},
        }
    (assembly / "manifest.json").write_text(json.dumps({"artifacts": artifacts}))
"""


class Repository:
    """A git repository in a temporary directory, committed to with a fixed identity."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir()
        self.git("init", "--quiet", "--initial-branch=main")

    def git(self, *args: str) -> str:
        identity = ["-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"]
        result = subprocess.run(["git", *identity, *args], cwd=self.path, check=True, capture_output=True, text=True)
        return result.stdout.strip()

    def write(self, templates: dict[str, Any], *, app_py: str | None = FAKE_APP) -> None:
        (self.path / "templates.json").write_text(json.dumps(templates))
        if app_py is None:
            (self.path / "app.py").unlink(missing_ok=True)
        else:
            (self.path / "app.py").write_text(app_py)

    def commit(self, message: str) -> str:
        self.git("add", "--all")
        self.git("commit", "--quiet", "--message", message)
        return self.git("rev-parse", "HEAD")


PROD_BUCKET = app("Prod", "Platform", template(Data=bucket(name="gbdt-data", retain=True)))
PROD_BUCKET_RENAMED = app("Prod", "Platform", template(Data=bucket(name="gbdt-data-v2", retain=True)))
PROD_BUCKET_UNVERSIONED = app("Prod", "Platform", template(Data=bucket(name="gbdt-data", retain=True, versioned=False)))


@pytest.fixture
def repository(tmp_path: Path) -> Repository:
    """GIVEN a repository whose one commit has a prod bucket."""
    repository = Repository(tmp_path / "repo")
    repository.write(PROD_BUCKET)
    repository.commit("prod bucket")
    return repository


def test_a_blocked_replacement_exits_1_and_prints_markdown(
    repository: Repository, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN uncommitted work that renames the prod bucket
    repository.write(PROD_BUCKET_RENAMED)
    # WHEN it is reviewed against the default base (the merge base with main: the last commit)
    code = main([], root=repository.path)
    # THEN the review fails on the replacement, and says so
    out = capsys.readouterr().out
    assert code == VIOLATION
    assert "merge base of HEAD and main" in out
    assert "❌ 1 stateful resource change(s) need an acknowledgment: Prod/Data." in out


def test_an_in_place_change_exits_0_and_writes_json_to_a_file(repository: Repository, tmp_path: Path) -> None:
    # GIVEN a commit that changes the prod bucket in place, then a clean working tree
    repository.write(PROD_BUCKET_UNVERSIONED)
    repository.commit("suspend versioning")
    output = tmp_path / "out" / "review.json"
    # WHEN it is reviewed (default base: the working tree is HEAD, so its parent), as JSON to a file
    code = main(["--json", "--output", str(output)], root=repository.path)
    # THEN the review passes and the file holds the in-place update
    data = json.loads(output.read_text())
    assert code == OK == data["exit_code"]
    assert data["base"].endswith("(parent of merge base of HEAD and main, which is the working tree)")
    assert [r["change"] for r in data["stacks"][0]["resources"]] == ["in place"]


def test_the_default_base_follows_the_working_tree(repository: Repository) -> None:
    first = repository.git("rev-parse", "HEAD")
    # GIVEN one commit and a clean tree / WHEN the default base is chosen / THEN there is none
    assert default_base(repository.path).commit is None
    # GIVEN a second commit on main and a clean tree (CI on main) / THEN the base is its parent
    repository.write(PROD_BUCKET_RENAMED)
    second = repository.commit("rename")
    assert default_base(repository.path).commit == first
    # GIVEN uncommitted changes / THEN the base is the last commit
    repository.write(PROD_BUCKET)
    assert default_base(repository.path).commit == second
    # GIVEN a branch with a commit of its own, clean / THEN the base is where it left main
    repository.git("checkout", "--quiet", "-b", "feature")
    repository.commit("back to the first name")
    assert default_base(repository.path).commit == second


def test_the_first_commit_has_no_base_and_exits_0(repository: Repository, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a repository with one commit and a clean tree (or a shallow clone without HEAD~1)
    # WHEN it is reviewed
    code = main([], root=repository.path)
    # THEN there is nothing to compare with, which is not a failure
    assert code == OK
    assert "which has no parent in this clone. Nothing to compare with." in capsys.readouterr().out


def test_an_unknown_ref_exits_2(repository: Repository, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN / WHEN a review against a ref that does not exist / THEN a usage error
    assert main(["--base", "no-such-branch"], root=repository.path) == USAGE
    assert "--base 'no-such-branch': not a commit" in capsys.readouterr().err


def test_a_bad_acknowledgment_file_exits_2(
    repository: Repository, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN an acknowledgment without a reason
    bad = tmp_path / "acknowledgments.toml"
    bad.write_text(
        '[[acknowledgment]]\nenvironment = "Prod"\nstack = "Platform"\nresource = "Data"\nchange = "replace"\n'
    )
    # WHEN the review uses it / THEN a usage error naming the entry and field
    assert main(["--acknowledgments", str(bad)], root=repository.path) == USAGE
    assert "[[acknowledgment]] #1: field 'reason'" in capsys.readouterr().err


def test_an_acknowledged_replacement_exits_0(repository: Repository, tmp_path: Path) -> None:
    # GIVEN the prod bucket renamed, and an acknowledgment for it
    repository.write(PROD_BUCKET_RENAMED)
    acknowledgments = tmp_path / "acknowledgments.toml"
    acknowledgments.write_text(
        '[[acknowledgment]]\nenvironment = "prod"\nstack = "Prod-Platform"\nresource = "Data"\n'
        'change = "replace"\nreason = "The bucket is empty until go-live."\n'
    )
    # WHEN it is reviewed / THEN it passes
    assert main(["--acknowledgments", str(acknowledgments)], root=repository.path) == OK


def test_a_base_without_app_py_exits_3(repository: Repository, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a base commit without app.py, and a head with one
    repository.write(PROD_BUCKET, app_py=None)
    base = repository.commit("no app")
    repository.write(PROD_BUCKET)
    # WHEN it is reviewed against that commit / THEN synthesis failed, and the message says why
    assert main(["--base", base], root=repository.path) == SYNTH_FAILED
    assert "has no app.py" in capsys.readouterr().err


def test_a_base_that_lacks_a_file_added_later_is_synthesized_with_it(
    repository: Repository, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a last commit whose app needs a file it does not have (an asset folder never committed),
    # and a working tree that has the file and renames the prod bucket
    needs_asset = "import pathlib\npathlib.Path('asset/Dockerfile').read_text()\n" + FAKE_APP
    repository.write(PROD_BUCKET, app_py=needs_asset)
    repository.commit("app that needs an asset")
    (repository.path / "asset").mkdir()
    (repository.path / "asset" / "Dockerfile").write_text("FROM scratch\n")
    repository.write(PROD_BUCKET_RENAMED, app_py=needs_asset)
    # WHEN it is reviewed
    code = main([], root=repository.path)
    # THEN the base is synthesized with the working tree's file, the report says so, and the review runs
    out = capsys.readouterr().out
    assert code == VIOLATION
    assert "it was synthesized with the files it lacks taken from the working tree: asset/ (1 file)." in out


def test_a_head_that_fails_to_synthesize_exits_3(repository: Repository, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN uncommitted work whose app.py raises
    repository.write(PROD_BUCKET, app_py="raise ValueError('environment prod: bad setting')\n")
    # WHEN it is reviewed / THEN synthesis failed, with the app's error
    assert main([], root=repository.path) == SYNTH_FAILED
    err = capsys.readouterr().err
    assert "the working tree failed to synthesize" in err
    assert "ValueError: environment prod: bad setting" in err


@pytest.mark.slow
def test_the_real_app_with_a_prod_bucket_replaced_exits_1(cli_synth: Path, tmp_path: Path) -> None:
    # GIVEN a synth of this working tree, as the CLI runs it, whose prod data bucket had another name
    base = tmp_path / "base"
    shutil.copytree(cli_synth, base)
    templates, _ = read_assemblies(base)
    prod_platform = templates["Prod"]["Prod-Platform"]
    data_bucket = next(name for name in prod_platform["Resources"] if name.startswith("DataBucket"))
    template_file = next(path for path in (base / "assembly-Prod").glob("*.template.json") if "Platform" in path.name)
    raw = json.loads(template_file.read_text())
    raw["Resources"][data_bucket]["Properties"]["BucketName"] = "sagemaker-gbdt-prod-data-old"
    template_file.write_text(json.dumps(raw))

    # WHEN `python -m review` compares the working tree (synthesized above, as it would: not twice) with it
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CDK_", "AWS_"))}
    result = subprocess.run(
        [sys.executable, "-m", "review", "--base-dir", str(base), "--head-dir", str(cli_synth)],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )

    # THEN the bucket is replaced in prod, the review fails, and the Markdown says why
    assert result.returncode == VIOLATION, result.stderr
    assert f"❌ 1 stateful resource change(s) need an acknowledgment: Prod/{data_bucket}." in result.stdout
    assert (
        f"| ❌ | `{data_bucket}`<br><sub>Prod/Platform/Data/Bucket/Resource</sub> | AWS::S3::Bucket | **replaced** |"
        in (result.stdout)
    )
    assert "`BucketName` (replaced): `sagemaker-gbdt-prod-data-old` → `(none)`" in result.stdout
    # (only prod's bucket differs; other changes can show up while someone edits the tree meanwhile)
    for environment in ("Dev", "Staging"):
        assert f"| `{environment}-Platform` |" in result.stdout
        assert f"❌ `{environment}-" not in result.stdout
