"""Start as root (what SageMaker expects of an image), work as an unprivileged user.

SageMaker mounts /opt/ml/model, /opt/ml/output and /opt/ml/checkpoints at run time, owned by root; its
developer guide says it runs every container as root and that a non-root user "can cause permissions
issues". So the image starts as root and, before anything reads the job's input, the entry point hands
what the work needs to the work user named by ALGORITHM_USER ("uid:gid", set by the Dockerfile), then
drops to it for good:
- `train`: model/, output/ and (when the job configures checkpoints) checkpoints/ become the work user's,
  all the way down (a resumed job's checkpoint files were downloaded as root);
- `serve`: the model SageMaker extracted must be readable; it is changed only when it is not;
- `monitor` (a processing job): processing/output/ (uploaded to S3 at the end) and output/ (the failure
  message) become the work user's; the inputs SageMaker downloaded to processing/input/ must be readable
  and are changed only when they are not.
When a directory cannot be handed over (a read-only mount, a file where the directory belongs) and the
work user could not use it as it is, the program fails with one line naming the path and the reason.

Without ALGORITHM_USER, or when not started as root (a run from a checkout, `docker run --user`), the
program keeps the user it was started as.
"""

from __future__ import annotations

import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path

from sagemaker_contract.errors import UserError
from sagemaker_contract.interface import BASELINE_INPUT, CAPTURE_INPUT, PROCESSING_DIR, PROCESSING_OUTPUT
from sagemaker_contract.paths import OptMl

USER_VARIABLE = "ALGORITHM_USER"


@dataclass(frozen=True)
class WorkUser:
    uid: int
    gid: int

    def __str__(self) -> str:
        return f"uid {self.uid}"


def work_user(environ: dict[str, str] | os._Environ[str]) -> WorkUser | None:
    """The user of ALGORITHM_USER ("uid:gid", both numbers above 0), or None when unset or empty."""
    text = environ.get(USER_VARIABLE, "").strip()
    if not text:
        return None
    uid, _, gid = text.partition(":")
    if not (uid.isdigit() and gid.isdigit() and int(uid) > 0 and int(gid) > 0):
        raise UserError(f"{USER_VARIABLE} must be uid:gid, two numbers above 0 (e.g. 10001:10001), got {text!r}")
    return WorkUser(int(uid), int(gid))


def _allows(status: os.stat_result, user: WorkUser, need: int) -> bool:
    """Whether the mode bits give `user` the `need` bits (4 read, 2 write, 1 search), as the kernel decides."""
    if status.st_uid == user.uid:
        shift = 6
    elif status.st_gid == user.gid:
        shift = 3
    else:
        shift = 0
    return (status.st_mode >> shift) & need == need


def _tree(path: Path) -> list[Path]:
    entries = [path]
    for folder, directories, files in os.walk(path):
        entries.extend(Path(folder) / name for name in directories + files)
    return entries


def _unusable(path: Path, user: WorkUser, *, write: bool) -> str | None:
    """What in the tree `user` cannot use (directories need search, read and, for `write`, write)."""
    for entry in _tree(path):
        status = entry.lstat()
        if stat.S_ISLNK(status.st_mode):
            continue
        need = (7 if write else 5) if stat.S_ISDIR(status.st_mode) else 4
        if not _allows(status, user, need):
            mode = stat.filemode(status.st_mode)
            return f"{entry} ({mode}, owner {status.st_uid}:{status.st_gid}) is not usable by {user}"
    return None


def _hand_over(path: Path, user: WorkUser, *, write: bool, create: bool) -> None:
    """Make the tree at `path` usable by `user`: chown it, unless it is usable already or cannot be changed."""
    try:
        if create:
            path.mkdir(parents=True, exist_ok=True)
        if not path.is_dir():
            raise UserError(f"cannot prepare {path} for {user}: it is not a directory")
        if not write and _unusable(path, user, write=False) is None:
            return  # serving reads the model as it is: leave SageMaker's files alone
        for entry in _tree(path):
            status = entry.lstat()
            os.chown(entry, user.uid, user.gid, follow_symlinks=False)
            if not stat.S_ISLNK(status.st_mode):
                owner_bits = (0o700 if write else 0o500) if stat.S_ISDIR(status.st_mode) else 0o600 if write else 0o400
                entry.chmod(stat.S_IMODE(status.st_mode) | owner_bits)
    except OSError as error:
        problem = _unusable(path, user, write=write) if path.is_dir() else f"{path} is not a directory"
        if problem is not None:
            raise UserError(f"cannot make {path} usable by {user}: {error.strerror}; {problem}") from None


def drop_privileges(command: str, paths: OptMl, user: WorkUser | None) -> None:
    """As root with a work user: hand over what `command` needs, then become that user (no way back)."""
    if user is None or os.geteuid() != 0:
        return
    if command == "train":
        _hand_over(paths.model, user, write=True, create=True)
        _hand_over(paths.output, user, write=True, create=True)
        if paths.checkpoints.exists():  # created by SageMaker only when the job configures checkpoints
            _hand_over(paths.checkpoints, user, write=True, create=False)
    elif command == "monitor":
        processing = paths.root / PROCESSING_DIR
        _hand_over(processing / PROCESSING_OUTPUT, user, write=True, create=True)
        _hand_over(paths.output, user, write=True, create=True)
        for name in (BASELINE_INPUT, CAPTURE_INPUT):
            if (processing / name).exists():  # a missing input is the monitor's to report
                _hand_over(processing / name, user, write=False, create=False)
    elif paths.model.exists():
        _hand_over(paths.model, user, write=False, create=False)
    try:
        os.setgroups([])
        os.setgid(user.gid)
        os.setuid(user.uid)
    except OSError as error:
        raise UserError(f"cannot switch to {user} (gid {user.gid}): {error.strerror}") from None
    try:  # root's HOME would stay otherwise, unreadable to the work user
        os.environ["HOME"] = pwd.getpwuid(user.uid).pw_dir
    except KeyError:
        os.environ.pop("HOME", None)
