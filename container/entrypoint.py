"""What the image runs: `entrypoint.py train` or `entrypoint.py serve` (SageMaker passes the word).

The contract layer (sagemaker_contract/) does the SageMaker side; the algorithm layer is the object that
ALGORITHM_MODULE names as `module:attribute` (sagemaker_contract/seam.py), never imported by name.
OPT_ML_DIR relocates /opt/ml, so the same program runs from a checkout without Docker.
`export` writes every file the app reads about the image (sagemaker_contract/exports.py) into this folder;
`export --check` only names the stale ones.

The image starts as root, as SageMaker expects; before anything else the entry point hands the mounted
directories to the work user of ALGORITHM_USER and drops to it (sagemaker_contract/privileges.py).

Training runs in a forked child while this small parent waits: when the kernel's out-of-memory killer
(SIGKILL) or a native crash ends the child, the parent still writes the failure reason.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from pathlib import Path
from types import FrameType

from sagemaker_contract import privileges
from sagemaker_contract.errors import UserError
from sagemaker_contract.failure import write_failure
from sagemaker_contract.paths import OptMl

USAGE = "usage: entrypoint.py train|serve|monitor|export [--check]   (OPT_ML_DIR relocates /opt/ml)"
EXPORT_DIRECTORY = Path(__file__).resolve().parent


def _train(paths: OptMl) -> int:
    # Imported here, in the forked child, so that the waiting parent stays small.
    try:
        from sagemaker_contract import seam, training  # noqa: PLC0415

        algorithm = seam.load()
    except UserError as error:
        write_failure(paths.failure, f"the training program could not start: {error}")
        return 1
    except Exception as error:  # even a broken image must leave a failure reason
        write_failure(paths.failure, f"the training program could not start: {type(error).__name__}: {error}")
        raise
    return training.run(algorithm, paths)


def _death_reason(signum: int) -> str:
    name = signal.Signals(signum).name
    if signum == signal.SIGKILL:
        return (
            f"the training process was killed by {name}, most likely by the kernel's out-of-memory killer: "
            "use an instance type with more memory, or fewer rows or features"
        )
    return f"the training process died from {name} (a crash in native code, or out of memory); see the training log"


def _supervise_training(paths: OptMl) -> int:
    paths.failure.unlink(missing_ok=True)
    child = os.fork()
    if child == 0:
        code = 1
        try:
            code = _train(paths)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    def forward(signum: int, _frame: FrameType | None) -> None:
        os.kill(child, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    _, status = os.waitpid(child, 0)
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        if not paths.failure.exists():
            write_failure(paths.failure, _death_reason(signum))
        return 128 + signum
    return os.waitstatus_to_exitcode(status)


def _become_work_user(command: str, paths: OptMl) -> bool:
    """Drop from root to the work user; False (the reason written) when what SageMaker mounted cannot be used."""
    try:
        privileges.drop_privileges(command, paths, privileges.work_user(os.environ))
    except UserError as error:
        if command == "monitor":
            from sagemaker_contract import monitor  # noqa: PLC0415 - see _train

            with contextlib.suppress(OSError):  # output/ itself is the problem: write_message printed the reason
                monitor.write_message(paths, str(error))
            return False
        if command != "train":
            print(f"serving cannot start: {error}", file=sys.stderr, flush=True)
            return False
        try:
            write_failure(paths.failure, str(error))
        except OSError:  # output/ itself is the problem; the reason is on stderr
            print(f"training failed: {error}", file=sys.stderr, flush=True)
        return False
    return True


def _serve(paths: OptMl) -> int:
    from sagemaker_contract import seam, server  # noqa: PLC0415 - serving never loads the training modules

    try:
        algorithm = seam.load()
    except UserError as error:
        print(f"serving cannot start: {error}", file=sys.stderr, flush=True)
        return 1
    return server.run(algorithm, paths)


def _export(check: bool) -> int:
    from sagemaker_contract import exports, seam  # noqa: PLC0415 - see _train

    algorithm = seam.load()
    if check:
        stale = exports.stale(algorithm, EXPORT_DIRECTORY)
        for name in stale:
            print(f"{EXPORT_DIRECTORY / name} is stale: run `python container/entrypoint.py export`", file=sys.stderr)
        return 1 if stale else 0
    for name in exports.write(algorithm, EXPORT_DIRECTORY):
        print(f"wrote {EXPORT_DIRECTORY / name} ({seam.reference()})")
    return 0


def main(argv: list[str]) -> int:
    if argv in (["export"], ["export", "--check"]):
        return _export(check=len(argv) == 2)
    if len(argv) != 1 or argv[0] not in {"train", "serve", "monitor"}:
        print(USAGE, file=sys.stderr)
        return 2
    paths = OptMl.from_environment()
    if not _become_work_user(argv[0], paths):
        return 1
    if argv[0] == "train":
        return _supervise_training(paths)
    if argv[0] == "monitor":  # a processing job: drift of captured requests against the model's baseline
        from sagemaker_contract import monitor  # noqa: PLC0415 - see _train

        return monitor.run(paths)
    return _serve(paths)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
