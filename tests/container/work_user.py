"""A Python, its packages and the entry point that the work user can still read after the drop to it.

The entry point starts as root and drops to ALGORITHM_USER, then imports the algorithm, LightGBM and the
rest of the standard library as that user. A clone under a directory other users cannot enter (`mktemp -d`,
a home directory of mode 0700 or 0750) holds the dev environment and the program where the work user cannot
read them, and so may the interpreter (pyenv under /root). Root can arrange it: each part that others cannot
reach is copied (hard-linked where the file system allows it: no space, no time) into a directory they can,
and the dropped process runs that copy, a virtual environment of the same interpreter and packages.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

from tests.container.harness import CONTAINER, ENTRYPOINT


@dataclass(frozen=True)
class Runtime:
    """How to run the entry point so that the work user can read all it imports."""

    python: str
    entrypoint: Path
    cwd: Path  # gunicorn changes into the working directory after the drop
    env: dict[str, str] = field(default_factory=dict)


def others_can_read(path: Path) -> bool:
    """Whether a user with no special rights reaches and reads `path` (every parent searchable by others)."""
    path = Path(os.path.realpath(path))
    return all(p.stat().st_mode & 0o001 for p in path.parents) and bool(path.stat().st_mode & 0o004)


def _link_or_copy(source: str, target: str) -> None:
    # A hard link shares the original's mode: only a file others can read already is linked.
    if Path(source).stat().st_mode & 0o004:
        try:
            os.link(source, target)
        except OSError:  # another file system, or links refused
            pass
        else:
            return
    shutil.copy2(source, target)
    Path(target).chmod(Path(target).stat().st_mode | 0o444)


def _readable_copy(source: Path, target: Path, *, ignore: list[str] | None = None) -> Path:
    shutil.copytree(
        source,
        target,
        symlinks=True,
        copy_function=_link_or_copy,
        # The byte code comes along: the work user cannot write a __pycache__ here, and would compile every module
        # it imports on every start (sampled: most of these tests' CPU). A cached file stays valid in the copy:
        # it names its source's modification time and size, which the link or copy2 keeps.
        ignore=shutil.ignore_patterns(*(ignore or [])),
    )
    for directory, _, _ in os.walk(target):
        Path(directory).chmod(0o755)
    return target


def _base_python(version: str, base: Path) -> Path:
    """The directory of an interpreter the work user can run: the base installation's, or a copy of it."""
    home = Path(sys.base_prefix) / "bin"
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    if others_can_read(home / f"python{version}") and others_can_read(stdlib):
        return home
    copy = base / "python"
    (copy / "bin").mkdir(parents=True)
    _link_or_copy(os.path.realpath(home / f"python{version}"), str(copy / "bin" / f"python{version}"))
    # The standard library, found next to the executable (lib/pythonX.Y/os.py), with its shared library.
    _readable_copy(stdlib, copy / "lib" / stdlib.name, ignore=["site-packages", "test"])
    for library in (Path(sys.base_prefix) / "lib").glob(f"libpython{version}*"):
        _link_or_copy(os.path.realpath(library), str(copy / "lib" / library.name))
    return copy / "bin"


def _library_path(home: Path) -> dict[str, str]:
    """Where a copied shared libpython is: the executable's run path names the original, which others cannot read."""
    libraries = home.parent / "lib"
    if home.is_relative_to(Path(sys.base_prefix)) or not any(libraries.glob("libpython*")):
        return {}
    return {"LD_LIBRARY_PATH": str(libraries)}


def _readable_python(base: Path) -> tuple[str, dict[str, str]]:
    """The running interpreter with its packages, or a virtual environment in `base` that others can read,
    and the environment variables it needs."""
    packages = Path(sysconfig.get_paths()["purelib"])
    if all(others_can_read(part) for part in (Path(sys.executable), Path(sysconfig.get_paths()["stdlib"]), packages)):
        return sys.executable, {}
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    home = _base_python(version, base)
    venv = base / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(home / f"python{version}")
    (venv / "pyvenv.cfg").write_text(
        f"home = {home}\ninclude-system-site-packages = false\nversion = {sys.version.split()[0]}\n"
    )
    _readable_copy(packages, venv / "lib" / f"python{version}" / "site-packages")
    return str(venv / "bin" / "python"), _library_path(home)


def work_user_runtime(base: Path) -> Runtime:
    """The running interpreter, its packages and the entry point, readable by any user from `base` (mode 0755).

    What others can read in place (all of it, usually) is not copied.
    """
    entrypoint = ENTRYPOINT
    if not others_can_read(ENTRYPOINT):
        entrypoint = _readable_copy(CONTAINER, base / "container") / ENTRYPOINT.name
    python, env = _readable_python(base)
    return Runtime(python, entrypoint, base, env)
