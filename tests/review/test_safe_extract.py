"""The base revision's archive is extracted safely on every supported Python (3.11.0 and later).

`TarFile.extractall(filter="data")` arrived in 3.11.4; before it, `safe_extract` checks each member
itself. Both code paths run here, whatever Python runs the tests, against the same hostile archives.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from review.synth import HAS_EXTRACTION_FILTER, ROOT, UnsafeArchiveError, safe_extract

# On 3.12+ tarfile warns that 3.14 filters by default: the fallback, forced here, checked already.
pytestmark = pytest.mark.filterwarnings("ignore:Python 3.14 will:DeprecationWarning")

PATHS = [pytest.param(False, id="without-filter"), pytest.param(True, id="with-data-filter")]


def _archive(*members: tuple[tarfile.TarInfo, bytes | None]) -> tarfile.TarFile:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for info, content in members:
            if content is not None:
                info.size = len(content)
            tar.addfile(info, io.BytesIO(content) if content is not None else None)
    buffer.seek(0)
    return tarfile.open(fileobj=buffer)


def _file(name: str, content: bytes = b"x", mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.mode = mode
    return info, content


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


def _special(name: str) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = tarfile.FIFOTYPE
    return info, None


def _skip_if_unavailable(use_filter: bool) -> None:
    if use_filter and not HAS_EXTRACTION_FILTER:
        pytest.skip("this Python has no extraction filter (before 3.11.4): only the fallback applies")


@pytest.mark.parametrize("use_filter", PATHS)
def test_a_git_archive_like_tree_is_extracted_with_its_links(tmp_path: Path, use_filter: bool) -> None:
    # GIVEN files, a folder, an executable and links that stay inside the tree (what git archive holds)
    _skip_if_unavailable(use_filter)
    destination = tmp_path / "out"
    destination.mkdir()
    tar = _archive(
        _file("app.py", b"print()"),
        _file("scripts/run.sh", b"#!/bin/sh", mode=0o4755),
        _link("docs/app.py", "../app.py"),
        _link("copy.py", "app.py", kind=tarfile.LNKTYPE),
    )
    # WHEN it is extracted
    safe_extract(tar, destination, use_filter=use_filter)
    # THEN everything is there, links work, and no set-id bit survives
    assert (destination / "docs" / "app.py").read_bytes() == b"print()"
    assert (destination / "copy.py").read_bytes() == b"print()"
    assert (destination / "scripts" / "run.sh").stat().st_mode & 0o7000 == 0


HOSTILE: dict[str, Callable[[], tarfile.TarFile]] = {
    "dot-dot-name": lambda: _archive(_file("../evil.txt")),
    "nested-dot-dot-name": lambda: _archive(_file("a/../../evil.txt")),
    "absolute-symlink": lambda: _archive(_link("passwd", "/etc/passwd")),
    "symlink-leaving-the-tree": lambda: _archive(_link("up", "../..")),
    "hard-link-leaving-the-tree": lambda: _archive(_link("stolen", "../outside.txt", kind=tarfile.LNKTYPE)),
    "absolute-hard-link": lambda: _archive(_link("stolen", "/etc/passwd", kind=tarfile.LNKTYPE)),
    # Each link stays inside on its own; through the first, the second's target leaves the tree.
    "chained-symlinks": lambda: _archive(_link("s", "."), _link("s/s/s/t", "../../..")),
    "write-through-a-symlink": lambda: _archive(_link("s", "."), _link("s/s/up", ".."), _file("s/s/up/evil.txt")),
    "fifo": lambda: _archive(_special("pipe")),
}


@pytest.mark.parametrize("use_filter", PATHS)
@pytest.mark.parametrize("hostile", list(HOSTILE))
def test_a_hostile_archive_is_refused_and_writes_nothing_outside(
    tmp_path: Path, hostile: str, use_filter: bool
) -> None:
    # GIVEN an archive whose member would reach outside the destination, or is a special file
    _skip_if_unavailable(use_filter)
    (tmp_path / "outside.txt").write_text("secret")
    destination = tmp_path / "deep" / "out"
    destination.mkdir(parents=True)
    before = sorted(p for p in tmp_path.rglob("*") if not p.is_relative_to(destination))
    # WHEN it is extracted THEN it is refused
    with pytest.raises(UnsafeArchiveError, match=r"archive member '"):
        safe_extract(HOSTILE[hostile](), destination, use_filter=use_filter)
    # AND nothing outside the destination was created or changed
    assert sorted(p for p in tmp_path.rglob("*") if not p.is_relative_to(destination)) == before
    assert (tmp_path / "outside.txt").read_text() == "secret"


def test_an_absolute_name_is_kept_inside_or_refused(tmp_path: Path) -> None:
    # GIVEN a member named by an absolute path: the data filter strips the '/', the fallback refuses
    destination = tmp_path / "out"
    destination.mkdir()
    outside = tmp_path / "evil.txt"
    with pytest.raises(UnsafeArchiveError, match=r"archive member '/.*evil\.txt' has an absolute name"):
        safe_extract(_archive(_file(str(outside))), destination, use_filter=False)
    if HAS_EXTRACTION_FILTER:
        safe_extract(_archive(_file(str(outside))), destination, use_filter=True)
    # THEN nothing is written where the name points
    assert not outside.exists()


SIMULATED_3_11_2 = """
import sys, tarfile
from pathlib import Path

# Python 3.11.2 as Debian 12 ships it: no extraction filters, and extractall() takes no filter=
# (tarfile's own code still uses the rest of the machinery, so only the public names go). A Python
# from before 3.11.4 is that already.
if hasattr(tarfile, "data_filter"):
    del tarfile.data_filter, tarfile.tar_filter
    original = tarfile.TarFile.extractall
    def extractall(self, path=".", members=None, *, numeric_owner=False, **unexpected):
        if unexpected:
            raise TypeError(f"extractall() got an unexpected keyword argument {next(iter(unexpected))!r}")
        return original(self, path, members, numeric_owner=numeric_owner, filter="fully_trusted")
    tarfile.TarFile.extractall = extractall

from review import synth
assert not synth.HAS_EXTRACTION_FILTER
synth.extract_revision(synth.ROOT, "HEAD", Path(sys.argv[1]))
"""


def test_the_base_revision_is_extracted_on_a_python_without_extraction_filters(tmp_path: Path) -> None:
    # GIVEN a Python whose tarfile has no filters (3.11.0-3.11.3), simulated in a fresh interpreter on a later one
    destination = tmp_path / "base"
    # WHEN the review extracts the HEAD revision with git archive
    result = subprocess.run(
        [sys.executable, "-c", SIMULATED_3_11_2, str(destination)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    # THEN it works, without filter=, and the tree is there
    assert result.returncode == 0, result.stderr
    assert (destination / "review" / "synth.py").is_file()
