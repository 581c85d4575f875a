"""The conformance kit: the contract's promises, checked for any algorithm through the seam.

Each algorithm is named by its `module:attribute` reference (ALGORITHM_MODULE) and driven only by what it
declares: its example hyperparameters train it, its metrics are looked for in the log, its capabilities
decide what is checked. Nothing here names an algorithm's hyperparameters or metrics. `make conformance
ALGORITHM=module:attribute` runs the kit against one algorithm; otherwise it runs against every algorithm
the repository ships. One training job and one server per algorithm are shared by the kit's tests.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sagemaker_contract import exports, seam
from sagemaker_contract.protocol import Algorithm

from tests.container.harness import (
    Server,
    csv_bytes,
    failure_of,
    make_data,
    parse_predictions,
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
    test_features: np.ndarray
    server: Server | None = None


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
    job = Trained(reference, algorithm, root, result.stdout, features[ROWS:])
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


def test_sigterm_stops_training_without_a_model_and_checkpoints_where_declared(
    trained: Trained, tmp_path: Path
) -> None:
    """GIVEN a job lengthened through the declared tuning resource (rounds, epochs) WHEN SIGTERM arrives mid-training
    THEN exit 143, a failure saying so, no model; and a checkpoint saved when the algorithm declares checkpoints."""
    declared = trained.algorithm.declaration.capabilities
    if declared.tuning_resource is None:
        pytest.skip("the algorithm declares no resource (rounds, epochs) to make its training last")
    resource = exports.schema(trained.algorithm).hyperparameters[declared.tuning_resource]
    values = dict(trained.algorithm.declaration.example) | {resource.name: str(int(resource.maximum or 1_000_000))}
    labels, features = make_data("binary", 2000, seed=5)
    root = write_tree(tmp_path, values, {"train": {"a.csv": csv_bytes(labels, features)}})
    if declared.checkpoints:
        (root / "checkpoints").mkdir()
    process, _ = start_long_training(root, ALGORITHM_MODULE=trained.reference)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 128 + signal.SIGTERM
    assert "training stopped by SIGTERM" in failure_of(root)
    assert not (root / "model" / "metadata.json").exists()
    if declared.checkpoints:
        assert "checkpoint saved" in failure_of(root)
        assert any((root / "checkpoints").iterdir())
