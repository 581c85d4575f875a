"""The conformance kit: the contract's promises, checked for any algorithm through the seam.

Each algorithm is named by its `module:attribute` reference (ALGORITHM_MODULE) and driven only by what it
declares: its example hyperparameters train it, its metrics are looked for in the log, its capabilities
decide what is checked: a stop on SIGTERM (when it declares a tuning resource to make training last), resuming
from a checkpoint (`checkpoints`), one model trained by two hosts (`several_hosts`), the validation metric every
round (`early_stopping`); a capability not declared is a skip saying so. Nothing here names an algorithm's
hyperparameters or metrics. `make conformance ALGORITHM=module:attribute` runs the kit against one algorithm;
otherwise it runs against every algorithm the repository ships. One training job, one server and one
interrupted job per algorithm are shared by the kit's tests.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sagemaker_contract import exports, seam
from sagemaker_contract.protocol import METRICS_PREFIX, Algorithm, Capabilities

from tests.container.harness import (
    Hosts,
    Server,
    auc,
    csv_bytes,
    failure_of,
    host_addresses,
    make_data,
    parse_predictions,
    resource_config,
    run_train,
    start_long_training,
    start_server,
    write_tree,
)

# The algorithms the repository ships; CONFORMANCE_ALGORITHM (make conformance ALGORITHM=...) picks one.
SHIPPED = ("lightgbm_gbdt:ALGORITHM", "linear_model:ALGORITHM")
REFERENCES = (os.environ["CONFORMANCE_ALGORITHM"],) if os.environ.get("CONFORMANCE_ALGORITHM") else SHIPPED
ROWS, TEST_ROWS = 1500, 200


@dataclass
class Trained:
    """One algorithm's job trained on its example hyperparameters, and a server on the model."""

    reference: str
    algorithm: Algorithm[Any]
    root: Path
    stdout: str
    test_labels: np.ndarray
    test_features: np.ndarray
    server: Server | None = None

    @property
    def capabilities(self) -> Capabilities:
        return self.algorithm.declaration.capabilities

    def requires(self, capability: str) -> None:
        """Skip, saying so, when the algorithm does not declare `capability`."""
        if not getattr(self.capabilities, capability):
            pytest.skip(f"{self.reference} does not declare {capability}")


@pytest.fixture(scope="module", params=REFERENCES)
def trained(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trained]:
    """GIVEN an algorithm's declared example hyperparameters and 0/1 labels WHEN the real entry point trains."""
    reference: str = request.param
    algorithm = seam.load(reference)
    labels, features = make_data("binary", ROWS + TEST_ROWS, seed=3)
    root = write_tree(
        tmp_path_factory.mktemp("conformance"),
        dict(algorithm.declaration.example),
        {
            "train": {"part-0.csv": csv_bytes(labels[:1000], features[:1000])},
            "validation": {"part-0.csv": csv_bytes(labels[1000:ROWS], features[1000:ROWS])},
        },
    )
    result = run_train(root, ALGORITHM_MODULE=reference)
    assert result.returncode == 0, result.stderr + (root / "output" / "failure").read_text(errors="replace")
    job = Trained(reference, algorithm, root, result.stdout, labels[ROWS:], features[ROWS:])
    try:
        yield job
    finally:
        if job.server is not None:
            job.server.stop()


@pytest.fixture(scope="module")
def server(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> Server:
    if trained.server is None:
        log = tmp_path_factory.mktemp("conformance-serve") / "serve.log"
        trained.server = start_server(trained.root, log, ALGORITHM_MODULE=trained.reference)
    return trained.server


def test_the_declaration_exports(trained: Trained) -> None:
    """GIVEN the algorithm THEN its exports generate: names cross-checked, the example within its schema."""
    document = exports.algorithm_document(trained.algorithm)
    assert document["metrics"], "an algorithm declares at least one metric"
    schema = exports.schema(trained.algorithm)
    assert schema.problems(dict(trained.algorithm.declaration.example), complete=True) == []
    for definition in exports.metric_definitions(trained.algorithm):
        assert re.compile(definition["Regex"]).groups == 1


def test_training_writes_a_complete_model_and_summary(trained: Trained) -> None:
    metadata = json.loads((trained.root / "model" / "metadata.json").read_text())
    assert metadata["algorithm"] == trained.algorithm.name
    assert metadata["files"], "the model has files"
    for name, digest in metadata["files"].items():
        assert (trained.root / "model" / name).stat().st_size == digest["bytes"]
    summary = json.loads((trained.root / "output" / "data" / "training_summary.json").read_text())
    assert summary["status"] == "completed"
    assert (trained.root / "model" / "drift-baseline.json").is_file()


def test_every_reported_metric_is_declared_and_scraped(trained: Trained) -> None:
    """GIVEN the training log THEN each metric reported is declared, and its MetricDefinition captures it."""
    lines = [line for line in trained.stdout.splitlines() if line.startswith("#metrics ")]
    assert lines, "fit reports metrics"
    declared = {m.name for m in trained.algorithm.declaration.metrics}
    regexes = {d["Name"]: d["Regex"] for d in exports.metric_definitions(trained.algorithm)}
    for line in lines:
        for pair in line.split()[2:]:
            name, value = pair.split("=")
            assert name in declared, f"{name} is reported but not declared"
            match = re.search(regexes[name], line)
            assert match is not None
            assert float(match.group(1)) == pytest.approx(float(value))


def test_an_unknown_hyperparameter_fails_the_job_naming_it(trained: Trained, tmp_path: Path) -> None:
    labels, features = make_data("binary", 100, seed=4)
    values = dict(trained.algorithm.declaration.example) | {"no_such_hyperparameter": "1"}
    root = write_tree(tmp_path, values, {"train": {"a.csv": csv_bytes(labels, features)}})
    result = run_train(root, ALGORITHM_MODULE=trained.reference)
    assert result.returncode == 1
    assert "unknown hyperparameter(s) no_such_hyperparameter" in failure_of(root)


def test_serving_answers_one_prediction_per_row_as_the_model_predicts(trained: Trained, server: Server) -> None:
    """GIVEN the trained model served WHEN rows are posted THEN the answer is what the model predicts for them."""
    assert server.request("GET", "/ping").status == 200
    body = csv_bytes(None, trained.test_features)
    response = server.invoke(body, accept="application/json")
    assert response.status == 200, response.text
    served = parse_predictions("application/json", response.body)
    sent = np.loadtxt(io.BytesIO(body), delimiter=",", ndmin=2)  # the values the CSV carries
    expected = trained.algorithm.load(trained.root / "model").predict(sent)
    assert len(served) == len(trained.test_features)
    np.testing.assert_allclose(served, expected, rtol=1e-6, atol=1e-9)


def test_a_request_of_the_wrong_width_is_a_client_error(trained: Trained, server: Server) -> None:
    response = server.invoke(csv_bytes(None, trained.test_features[:2, :-1]))
    assert response.status == 400
    assert "features" in response.text


def test_batch_transform_learns_the_execution_parameters(server: Server) -> None:
    parameters = json.loads(server.request("GET", "/execution-parameters").body)
    assert parameters["BatchStrategy"] == "MULTI_RECORD"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"1,2,not-a-number,4,5\n", "text/csv"),
        (b"\xff\xfe\x00garbage", "text/csv"),
        (b"", "text/csv"),
        (b'{"instances": [[1, 2]', "application/json"),
        (b"1,2,3,4,5\n", "application/x-no-such-type"),
    ],
    ids=["text-cell", "binary", "empty", "truncated-json", "unknown-type"],
)
def test_hostile_input_is_a_client_error_and_the_server_keeps_serving(
    trained: Trained, server: Server, body: bytes, content_type: str
) -> None:
    """GIVEN the served model WHEN a request is malformed THEN a 4xx saying why, and the next request is answered."""
    response = server.invoke(body, content_type=content_type)
    assert 400 <= response.status < 500, (response.status, response.text)
    assert response.text.strip()
    assert server.invoke(csv_bytes(None, trained.test_features[:1])).status == 200


@dataclass(frozen=True)
class Interrupted:
    """A job lengthened through the declared tuning resource (rounds, epochs), stopped by SIGTERM mid-training."""

    root: Path
    hyperparameters: dict[str, str]
    channels: dict[str, dict[str, bytes]]
    returncode: int
    first_round: int  # the first round its log reported


@pytest.fixture(scope="module")
def interrupted(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> Interrupted:
    resource_name = trained.capabilities.tuning_resource
    if resource_name is None:
        pytest.skip(f"{trained.reference} declares no tuning resource (rounds, epochs) to make its training last")
    resource = exports.schema(trained.algorithm).hyperparameters[resource_name]
    values = dict(trained.algorithm.declaration.example) | {resource.name: str(int(resource.maximum or 1_000_000))}
    labels, features = make_data("binary", 2000, seed=5)
    channels = {"train": {"a.csv": csv_bytes(labels, features)}}
    root = write_tree(tmp_path_factory.mktemp("interrupted"), values, channels)
    if trained.capabilities.checkpoints:
        (root / "checkpoints").mkdir()
    return Interrupted(root, values, channels, *_train_then_sigterm(root, trained.reference))


def _train_then_sigterm(root: Path, reference: str) -> tuple[int, int]:
    """Start a long training, send SIGTERM once it reports a round: its exit code, the first round it reported."""
    process, seen = start_long_training(root, ALGORITHM_MODULE=reference)
    process.send_signal(signal.SIGTERM)
    reported = re.match(rf"{METRICS_PREFIX} round=(\d+) ", seen[-1])
    assert reported is not None, seen[-1]
    return process.wait(timeout=60), int(reported.group(1))


def test_sigterm_stops_training_without_a_model_and_checkpoints_where_declared(
    trained: Trained, interrupted: Interrupted
) -> None:
    """GIVEN a long job WHEN SIGTERM arrives mid-training THEN exit 143, a failure saying so, no model; and a
    checkpoint saved when the algorithm declares checkpoints."""
    assert interrupted.returncode == 128 + signal.SIGTERM
    assert "training stopped by SIGTERM" in failure_of(interrupted.root)
    assert not (interrupted.root / "model" / "metadata.json").exists()
    if trained.capabilities.checkpoints:
        assert "checkpoint saved" in failure_of(interrupted.root)
        assert any((interrupted.root / "checkpoints").iterdir())


def test_training_resumes_from_its_checkpoint(trained: Trained, interrupted: Interrupted, tmp_path: Path) -> None:
    """GIVEN the interrupted job's checkpoints in a new tree (what SageMaker restores after a spot interruption)
    WHEN the same job starts again THEN it goes on from them: the first round it reports is a later one than the
    interrupted job's first (started over, the same job reports the same rounds)."""
    trained.requires("checkpoints")
    root = write_tree(tmp_path, interrupted.hyperparameters, interrupted.channels)
    shutil.copytree(interrupted.root / "checkpoints", root / "checkpoints")
    returncode, first_round = _train_then_sigterm(root, trained.reference)
    assert returncode == 128 + signal.SIGTERM
    assert first_round > interrupted.first_round, "the job started over instead of resuming from its checkpoint"


def test_the_validation_metric_is_reported_every_round(trained: Trained) -> None:
    """GIVEN early stopping declared THEN every round reports the validation metric, which SageMaker's tuning
    compares round by round across a tuning job's training jobs to stop the weak ones."""
    trained.requires("early_stopping")
    rounds = [
        int(line.split()[1].removeprefix("round="))
        for line in trained.stdout.splitlines()
        if line.startswith(f"{METRICS_PREFIX} ") and " validation:" in line
    ]
    assert len(rounds) > 1, trained.stdout[-2000:]
    assert rounds == list(range(1, len(rounds) + 1))


def test_two_hosts_train_one_model(trained: Trained, hosts: Hosts, tmp_path: Path) -> None:
    """GIVEN the one-host job's rows on two hosts of one job (127.0.0.1) WHEN both train THEN algo-1 writes one model,
    as good on held-out rows as the one-host model; algo-2 writes none; both saw the same validation metrics."""
    trained.requires("several_hosts")
    names = ["algo-1", "algo-2"]
    addresses = host_addresses(names)
    hyperparameters = json.loads((trained.root / "input" / "config" / "hyperparameters.json").read_text())
    # Bounded on a busy machine: a host that misses the other fails the job within this, naming it.
    hyperparameters["distributed_timeout_seconds"] = "60"
    channels = {
        channel: {path.name: path.read_bytes() for path in (trained.root / "input" / "data" / channel).iterdir()}
        for channel in ("train", "validation")
    }
    roots = [write_tree(tmp_path / name, hyperparameters, channels, resource_config=resource_config(name, names))
             for name in names]  # fmt: skip
    processes = [hosts.start(root, addresses, ALGORITHM_MODULE=trained.reference) for root in roots]
    outputs = [process.communicate(timeout=180)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    metadata = json.loads((roots[0] / "model" / "metadata.json").read_text())
    assert metadata["num_machines"] == 2
    assert not (roots[1] / "model" / "metadata.json").exists()
    one_host = trained.algorithm.load(trained.root / "model").predict(trained.test_features)
    two_hosts = trained.algorithm.load(roots[0] / "model").predict(trained.test_features)
    assert auc(trained.test_labels, two_hosts) == pytest.approx(auc(trained.test_labels, one_host), abs=0.02)
    validation = [
        [[pair for pair in line.split() if pair.startswith("validation:")] for line in output.splitlines()
         if line.startswith(f"{METRICS_PREFIX} ")]
        for output in outputs
    ]  # fmt: skip
    assert validation[0] == validation[1]
    assert any(validation[0])
