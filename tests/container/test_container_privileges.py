"""The image starts as root (as SageMaker runs images) and the entry point drops to ALGORITHM_USER.

These tests run the real entry point as root against trees owned by root with SageMaker's modes
(directories 0755, files 0644; a checkpoint downloaded as root, 0600) and observe the drop: what training
writes belongs to the work uid. The dropped process must still read the interpreter, its packages and the
program: wherever the clone or the Python lives, the `work_user` fixture gives it a copy it can read
(tests/container/work_user.py).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_sagemaker.container import free_port
from tests.container.harness import csv_bytes, failure_of, make_data, write_tree
from tests.container.work_user import Runtime

WORK_UID = 10001
WORK_USER = f"{WORK_UID}:{WORK_UID}"
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="observing the drop from root needs root")


def _run(runtime: Runtime, root: Path, command: str = "train", **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [runtime.python, str(runtime.entrypoint), command],
        env={**os.environ, **runtime.env, "OPT_ML_DIR": str(root), **env},
        cwd=runtime.cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory other users can reach (pytest's tmp_path is 0700, so the work user could not)."""
    directory = Path(tempfile.mkdtemp(prefix="privileges-"))
    directory.chmod(0o755)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def _sagemaker_tree(base: Path, hyperparameters: dict[str, str] | None = None) -> Path:
    labels, features = make_data("binary", 400, seed=3)
    root = write_tree(
        base / "ml",
        hyperparameters or {"objective": "binary", "num_boost_round": "5"},
        {"train": {"part-0.csv": csv_bytes(labels, features)}},
    )
    for name in ("model", "output", "checkpoints"):
        (root / name).mkdir(mode=0o755)
    checkpoint = root / "checkpoints" / "lightgbm-checkpoint.json"
    checkpoint.write_text('{"fingerprint": "another job", "rounds": 1, "model": ""}')
    checkpoint.chmod(0o600)
    return root


@as_root
def test_training_as_root_hands_the_mounts_to_the_work_user_and_drops_to_it(
    shared_dir: Path, work_user: Runtime
) -> None:
    """GIVEN model/, output/ and checkpoints/ owned by root (0755), a checkpoint file 0600
    WHEN train runs as root with ALGORITHM_USER
    THEN it succeeds and everything it wrote, and the checkpoint, belongs to the work uid."""
    root = _sagemaker_tree(shared_dir)
    result = _run(work_user, root, ALGORITHM_USER=WORK_USER)
    assert result.returncode == 0, result.stderr
    for written in ("model/model.txt", "model/metadata.json", "output/data/training_summary.json"):
        assert (root / written).stat().st_uid == WORK_UID, written
    assert (root / "checkpoints" / "lightgbm-checkpoint.json").stat().st_uid == WORK_UID
    assert "checkpoint ignored" in result.stdout  # read by the work user: it was handed over


@as_root
def test_training_without_a_work_user_keeps_running_as_root(shared_dir: Path, work_user: Runtime) -> None:
    """GIVEN no ALGORITHM_USER (a run from a checkout) WHEN train runs as root THEN no drop: root owns the model."""
    root = _sagemaker_tree(shared_dir)
    result = _run(work_user, root, ALGORITHM_USER="")
    assert result.returncode == 0, result.stderr
    assert (root / "model" / "model.txt").stat().st_uid == 0


@as_root
def test_a_mount_that_cannot_be_handed_over_fails_with_one_line(shared_dir: Path, work_user: Runtime) -> None:
    """GIVEN a file where SageMaker mounts /opt/ml/model WHEN train runs as root THEN one line naming it, exit 1."""
    root = _sagemaker_tree(shared_dir)
    (root / "model").rmdir()
    (root / "model").write_text("not a directory")
    result = _run(work_user, root, ALGORITHM_USER=WORK_USER)
    assert result.returncode == 1
    failure = failure_of(root)
    assert f"{root / 'model'} is not a directory" in failure
    assert f"uid {WORK_UID}" in failure
    assert "Traceback" not in result.stderr


@as_root
def test_serving_as_root_makes_a_root_only_model_readable(shared_dir: Path, work_user: Runtime) -> None:
    """GIVEN a model extracted root-only (0700 directory, 0600 files) WHEN serve starts as root
    THEN the work user can read it: the model is handed over before the drop."""
    root = _sagemaker_tree(shared_dir)
    assert _run(work_user, root, ALGORITHM_USER="").returncode == 0
    (root / "model").chmod(0o700)
    for item in (root / "model").iterdir():
        item.chmod(0o600)
    port = free_port()
    process = subprocess.Popen(
        [work_user.python, str(work_user.entrypoint), "serve"],
        env={**os.environ, **work_user.env, "OPT_ML_DIR": str(root), "SAGEMAKER_BIND_TO_PORT": str(port)}
        | {"ALGORITHM_USER": WORK_USER}
        | {"SAGEMAKER_MODEL_SERVER_WORKERS": "1", "GBDT_COMPILE_TREES": "off"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=work_user.cwd,
        start_new_session=True,
    )
    try:
        status = _wait_for_ping(port, process)
        assert status == 200, process.stdout.read() if process.stdout and process.poll() is not None else status
        assert (root / "model" / "model.txt").stat().st_uid == WORK_UID
        uids = next(
            line for line in Path(f"/proc/{process.pid}/status").read_text().splitlines() if line.startswith("Uid:")
        )
        assert uids.split()[1:] == [str(WORK_UID)] * 4  # real, effective, saved, filesystem: no way back to root
    finally:
        with contextlib.suppress(ProcessLookupError):  # it may have ended already (the assertion says why)
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def _wait_for_ping(port: int, process: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/ping")
            return connection.getresponse().status
        except OSError:
            time.sleep(0.1)
    return -1 if process.poll() is None else -process.returncode


@pytest.mark.parametrize("value", ["10001", "0:0", "algo:algo", "10001:-1"])
def test_a_bad_work_user_is_one_line_naming_the_variable(tmp_path: Path, value: str, work_user: Runtime) -> None:
    """GIVEN ALGORITHM_USER that is not uid:gid above 0 WHEN train starts THEN one line naming it, exit 1."""
    root = write_tree(tmp_path, {"objective": "binary"}, {})
    result = _run(work_user, root, ALGORITHM_USER=value)
    assert result.returncode == 1
    assert "ALGORITHM_USER must be uid:gid, two numbers above 0" in failure_of(root)
    assert "Traceback" not in result.stderr


@as_root
def test_an_unwritable_model_directory_fails_before_training(shared_dir: Path, work_user: Runtime) -> None:
    """GIVEN a job started as the work user (no root) and a root-owned model/ it cannot write
    WHEN train runs THEN the failure names the directory and the uid, before any data is read."""
    root = _sagemaker_tree(shared_dir)
    (root / "output").chmod(0o777)
    result = subprocess.run(
        [work_user.python, str(work_user.entrypoint), "train"],
        env={**os.environ, **work_user.env, "OPT_ML_DIR": str(root)},
        cwd=work_user.cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        user=WORK_UID,
        group=WORK_UID,
        extra_groups=[],
    )
    assert result.returncode == 1, result.stderr
    assert failure_of(root) == (
        f"the model directory {root / 'model'} is not writable by uid {WORK_UID}: "
        "training could not save the model there"
    )


def _processing_tree(runtime: Runtime, base: Path, capture: dict[str, bytes]) -> Path:
    """A processing job's /opt/ml as SageMaker prepares it, all root's: the baseline a training wrote (0644),
    capture files (0600 here: downloaded root-only), processing/output/ and output/ (0755)."""
    root = _sagemaker_tree(base)
    assert _run(runtime, root, ALGORITHM_USER="").returncode == 0
    inputs = root / "processing" / "input"
    (inputs / "baseline").mkdir(parents=True, mode=0o755)
    shutil.copy(root / "model" / "drift-baseline.json", inputs / "baseline")
    (inputs / "capture").mkdir(mode=0o700)
    for name, contents in capture.items():
        (inputs / "capture" / name).write_bytes(contents)
        (inputs / "capture" / name).chmod(0o600)
    (root / "processing" / "output").mkdir(mode=0o755)
    shutil.rmtree(root / "output")
    (root / "output").mkdir(mode=0o755)
    return root


@as_root
def test_monitor_as_root_hands_the_processing_output_to_the_work_user(shared_dir: Path, work_user: Runtime) -> None:
    """GIVEN a processing job's tree owned by root with SageMaker's modes and an empty capture window
    WHEN monitor runs as root with ALGORITHM_USER
    THEN it succeeds and its report in processing/output/ belongs to the work uid."""
    root = _processing_tree(work_user, shared_dir, {})
    result = _run(work_user, root, "monitor", ALGORITHM_USER=WORK_USER)
    assert result.returncode == 0, result.stderr
    for written in ("drift-report.json", "constraint_violations.json"):
        assert (root / "processing" / "output" / written).stat().st_uid == WORK_UID, written


@as_root
def test_monitor_as_root_reads_root_only_captures_and_writes_its_failure_message(
    shared_dir: Path, work_user: Runtime
) -> None:
    """GIVEN a root-only capture file (0600 in a 0700 directory) holding one unreadable line
    WHEN monitor runs as root with ALGORITHM_USER
    THEN the work user read it (the reason names the line) and wrote output/message, exit 1."""
    root = _processing_tree(work_user, shared_dir, {"a.jsonl": b"garbage\n"})
    result = _run(work_user, root, "monitor", ALGORITHM_USER=WORK_USER)
    assert result.returncode == 1, result.stderr
    message = root / "output" / "message"
    assert message.read_text().startswith("none of the 1 captured records is readable; first: a.jsonl:1:")
    assert message.stat().st_uid == WORK_UID
    assert "Traceback" not in result.stderr


@as_root
def test_monitor_whose_output_cannot_be_handed_over_fails_with_one_line(shared_dir: Path, work_user: Runtime) -> None:
    """GIVEN a file where SageMaker mounts /opt/ml/processing/output WHEN monitor runs as root
    THEN output/message names it and the uid, exit 1."""
    root = _processing_tree(work_user, shared_dir, {})
    (root / "processing" / "output").rmdir()
    (root / "processing" / "output").write_text("not a directory")
    result = _run(work_user, root, "monitor", ALGORITHM_USER=WORK_USER)
    assert result.returncode == 1
    message = (root / "output" / "message").read_text()
    assert f"{root / 'processing' / 'output'} is not a directory" in message
    assert f"uid {WORK_UID}" in message
    assert "Traceback" not in result.stderr
