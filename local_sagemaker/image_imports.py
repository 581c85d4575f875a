"""Run the container's entry point with only what the image installs importable.

The image installs container/requirements.txt and its algorithm's requirements.txt; the environment the local
SageMaker and the tests run in holds much more (the CDK, moto, the SageMaker SDK and, through it, pandas). What
the image lacks changes what the program does here: LightGBM imports pandas whenever it is installed, which
costs every training, serving and monitoring process about 0.4 s of CPU the image never spends, and a container
module that imported boto3 or pandas by mistake would work here and fail in SageMaker.

`python image_imports.py BLOCKED ENTRYPOINT ARGS...` runs ENTRYPOINT as `python ENTRYPOINT ARGS...` would, with
every top-level module named in BLOCKED (comma-separated; `not_in_image()` computes it) refused as a
ModuleNotFoundError, as in the image. The script imports only the standard library before it hands over: it runs
as its own program, and what it imported would be imported in every process.
"""

from __future__ import annotations

import functools
import importlib.abc
import re
import runpy
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import importlib.metadata
    from importlib.machinery import ModuleSpec
    from types import ModuleType

SCRIPT = Path(__file__).resolve()
CONTAINER = SCRIPT.parent.parent / "container"

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _normalized(name: str) -> str:
    """A distribution's name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_names(lines: Iterable[str]) -> set[str]:
    """The distributions that requirement lines name: an extra's requirements are not installed without it."""
    names = set()
    for line in lines:
        requirement, _, marker = line.split("#", 1)[0].partition(";")
        match = _NAME.match(requirement.strip())
        if match and "extra" not in marker:
            names.add(_normalized(match.group()))
    return names


def _top_level_modules(distribution: importlib.metadata.Distribution) -> set[str]:
    """The top-level modules and packages a distribution installs (top_level.txt, else its RECORD)."""
    listed = distribution.read_text("top_level.txt")
    if listed is not None:
        return {line.strip() for line in listed.splitlines() if line.strip()}
    modules = set()
    for file in distribution.files or ():
        first = file.parts[0]
        if len(file.parts) == 1 and file.suffix in {".py", ".so", ".pyd"}:
            modules.add(first.split(".", 1)[0])
        elif len(file.parts) > 1 and not first.endswith((".dist-info", ".egg-info", ".data")) and first != "..":
            modules.add(first)
    return {module for module in modules if module.isidentifier()}


@functools.cache
def not_in_image(container: Path = CONTAINER) -> tuple[str, ...]:
    """The top-level modules installed here that no image of `container` installs: those of every distribution
    outside the requirements of the contract layer and of every algorithm folder, and outside what they require.

    A requirement's markers other than an extra are not evaluated: a distribution the image might install stays
    importable.
    """
    import importlib.metadata  # noqa: PLC0415 - the parent's work: the entry point's process never needs it

    installed = {_normalized(d.metadata["Name"]): d for d in importlib.metadata.distributions() if d.metadata["Name"]}
    files = [container / "requirements.txt", *sorted(container.glob("*/requirements.txt"))]
    pending = set().union(*(_requirement_names(f.read_text().splitlines()) for f in files))
    image: set[str] = set()
    while pending:
        name = pending.pop()
        if name in image or name not in installed:
            continue
        image.add(name)
        pending |= _requirement_names(installed[name].requires or ())
    allowed = set().union(*(_top_level_modules(installed[name]) for name in image))
    others = set().union(*(_top_level_modules(d) for name, d in installed.items() if name not in image))
    return tuple(sorted(others - allowed - set(sys.stdlib_module_names)))


def command(entrypoint: Path, arguments: Sequence[str], python: str = sys.executable) -> list[str]:
    """The command line that runs `python entrypoint arguments...` with only the image's modules importable."""
    return [python, str(SCRIPT), ",".join(not_in_image()), str(entrypoint), *arguments]


class _NotInImage(importlib.abc.MetaPathFinder):
    def __init__(self, blocked: set[str]) -> None:
        self.blocked = blocked

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname.partition(".")[0] in self.blocked:
            raise ModuleNotFoundError(f"No module named {fullname!r} (the image does not install it)", name=fullname)
        return None  # not one of them: the next finder looks


def _run(argv: Sequence[str]) -> None:
    blocked, entrypoint, *arguments = argv
    sys.meta_path.insert(0, _NotInImage(set(filter(None, blocked.split(",")))))
    sys.argv = [entrypoint, *arguments]
    sys.path[0] = str(Path(entrypoint).resolve().parent)  # as `python entrypoint.py` puts its folder first
    runpy.run_path(entrypoint, run_name="__main__")


if __name__ == "__main__":
    _run(sys.argv[1:])
