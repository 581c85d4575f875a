"""The SageMaker Python SDK 3.x against the real entry point, through boto3's sagemaker-runtime client.

A loopback shim stands in for SageMaker hosting: it maps POST /endpoints/<name>/invocations to the container's
/invocations with the caller's Content-Type and Accept, and turns a container error into SageMaker's
ModelError (HTTP 424 with OriginalStatusCode and OriginalMessage), as the service does. The calls are what the
SDK's Predictor does: `serializer.serialize(data)`, `invoke_endpoint(ContentType=serializer.CONTENT_TYPE,
Accept=", ".join(deserializer.ACCEPT))`, `deserializer.deserialize(Body, ContentType)`.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import numpy as np
import pytest
from lightgbm_gbdt.algorithm import ALGORITHM
from sagemaker.core.deserializers import (  # type: ignore[import-untyped]
    CSVDeserializer,
    JSONDeserializer,
    JSONLinesDeserializer,
    NumpyDeserializer,
)
from sagemaker.core.serializers import (  # type: ignore[import-untyped]
    CSVSerializer,
    JSONLinesSerializer,
    JSONSerializer,
    NumpySerializer,
)

from tests.container.conftest import OBJECTIVES, Trained
from tests.container.harness import Server

_ROUTE = re.compile(r"^/endpoints/([A-Za-z0-9-]+)/invocations$")
# An endpoint hosting the binary model as an inference component: SageMaker routes by the component's name, which
# a caller must send (InvokeEndpoint's InferenceComponentName, the header botocore's model names).
COMPONENT_ENDPOINT, COMPONENT = "components", "binary-model"
COMPONENT_HEADER = "X-Amzn-SageMaker-Inference-Component"


def _shim(servers: dict[str, Server]) -> ThreadingHTTPServer:
    """SageMaker hosting's front end, reduced to routing: endpoint name = objective."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            found = _ROUTE.match(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if found is not None and found.group(1) == COMPONENT_ENDPOINT:
                if self.headers[COMPONENT_HEADER] != COMPONENT:
                    message = b'{"message": "InferenceComponentName is required: the endpoint hosts components"}'
                    self._reply(400, message, "application/json", b"ValidationError")
                    return
                self._forward(servers["binary"], body)
                return
            if found is None or found.group(1) not in servers:
                self._reply(404, b'{"message": "no such endpoint"}', "application/json")
                return
            self._forward(servers[found.group(1)], body)

        def _forward(self, server: Server, body: bytes) -> None:
            container = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            headers = {name: self.headers[name] for name in ("Content-Type", "Accept") if self.headers[name]}
            container.request("POST", "/invocations", body, headers)
            answer = container.getresponse()
            content = answer.read()
            container.close()
            if answer.status == 200:
                self._reply(200, content, answer.getheader("Content-Type", "application/octet-stream"))
                return
            error = {
                "OriginalStatusCode": answer.status,
                "OriginalMessage": content.decode(errors="replace"),
                "Message": f"Received client error ({answer.status}) from primary with message ...",
            }
            self._reply(424, json.dumps(error).encode(), "application/json", b"ModelError")

        def _reply(self, status: int, body: bytes, content_type: str, error_type: bytes = b"") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            if error_type:
                self.send_header("x-amzn-ErrorType", error_type.decode())
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


@pytest.fixture(scope="module")
def runtime(servers: dict[str, Server]) -> Iterator[Any]:
    """boto3's sagemaker-runtime client pointed at the shim (dummy credentials: nothing leaves loopback)."""
    shim = _shim(servers)
    thread = threading.Thread(target=shim.serve_forever, daemon=True)
    thread.start()
    try:
        yield boto3.client(
            "sagemaker-runtime",
            endpoint_url=f"http://127.0.0.1:{shim.server_address[1]}",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - not a secret: the shim checks nothing
        )
    finally:
        shim.shutdown()
        shim.server_close()


def _predict(
    runtime: Any, endpoint: str, data: Any, serializer: Any, deserializer: Any, component: str | None = None
) -> Any:
    """What the SDK's Predictor.predict does (with `component_name`, it names the inference component)."""
    response = runtime.invoke_endpoint(
        EndpointName=endpoint,
        Body=serializer.serialize(data),
        ContentType=serializer.CONTENT_TYPE,
        Accept=", ".join(deserializer.ACCEPT),
        **({"InferenceComponentName": component} if component else {}),
    )
    return deserializer.deserialize(response["Body"], response["ContentType"])


SERIALIZERS = {
    # (serializer, what the caller passes): JSON and JSON Lines get X.tolist(), as predictor.predict(X.tolist()).
    "CSVSerializer": (CSVSerializer, False),
    "JSONSerializer": (JSONSerializer, True),
    "JSONLinesSerializer": (JSONLinesSerializer, True),
    "NumpySerializer": (NumpySerializer, False),
}
DESERIALIZERS = {
    "CSVDeserializer": CSVDeserializer,
    "JSONDeserializer": JSONDeserializer,
    "JSONLinesDeserializer": JSONLinesDeserializer,
    "NumpyDeserializer": NumpyDeserializer,
}


def _as_array(name: str, result: Any) -> np.ndarray:
    if name == "CSVDeserializer":  # rows of strings
        return np.array([[float(value) for value in row] for row in result]).squeeze(
            axis=1 if len(result[0]) == 1 else ()
        )
    if name == "JSONDeserializer":
        return np.array(result["predictions"])
    if name == "JSONLinesDeserializer":
        return np.array([line["prediction"] for line in result])
    assert isinstance(result, np.ndarray)
    return result


@pytest.mark.parametrize("objective", OBJECTIVES)
@pytest.mark.parametrize("serializer_name", list(SERIALIZERS))
@pytest.mark.parametrize("deserializer_name", list(DESERIALIZERS))
def test_every_sdk_serializer_with_every_deserializer_gives_the_models_predictions(
    runtime: Any, trained: dict[str, Trained], objective: str, serializer_name: str, deserializer_name: str
) -> None:
    """GIVEN 6 rows as a NumPy array WHEN predicted through the SDK's serializer and deserializer THEN the
    model's 6 predictions (a value per row; class probabilities per row for multiclass)."""
    features = trained[objective].test_features[:6]
    serializer_class, as_list = SERIALIZERS[serializer_name]
    data = features.tolist() if as_list else features
    result = _predict(runtime, objective, data, serializer_class(), DESERIALIZERS[deserializer_name]())
    expected = ALGORITHM.load(trained[objective].root / "model").predict(features)
    got = _as_array(deserializer_name, result)
    assert got.shape == expected.shape
    assert np.allclose(got, expected, rtol=0, atol=1e-9)


def test_one_row_through_the_sdk(runtime: Any, trained: dict[str, Trained]) -> None:
    """GIVEN one row as a flat list (JSONSerializer sends [x1, ..., x5]) THEN one prediction."""
    row = trained["binary"].test_features[0]
    result = _predict(runtime, "binary", row.tolist(), JSONSerializer(), JSONDeserializer())
    assert len(result["predictions"]) == 1


def test_a_rejected_request_reaches_the_sdk_user_as_a_model_error_with_the_reason(runtime: Any) -> None:
    """GIVEN rows of the wrong width THEN boto3's ModelError carrying the container's 400 and its message."""
    with pytest.raises(runtime.exceptions.ModelError) as caught:
        _predict(runtime, "binary", [[1.0, 2.0, 3.0]], JSONSerializer(), JSONDeserializer())
    assert caught.value.response["OriginalStatusCode"] == 400
    assert "row 1 has 3 features; the model expects 5" in caught.value.response["OriginalMessage"]


def test_an_inference_component_answers_the_sdk_that_names_it(runtime: Any, trained: dict[str, Trained]) -> None:
    """GIVEN the binary model hosted as an inference component (the shim routes by InferenceComponentName)
    WHEN predicted through the SDK naming the component THEN the model's predictions; WHEN the component is not
    named THEN boto3's ValidationError, as SageMaker answers."""
    features = trained["binary"].test_features[:3]
    result = _predict(runtime, COMPONENT_ENDPOINT, features, CSVSerializer(), JSONDeserializer(), COMPONENT)
    expected = ALGORITHM.load(trained["binary"].root / "model").predict(features)
    assert np.allclose(result["predictions"], expected, rtol=0, atol=1e-9)
    with pytest.raises(runtime.exceptions.ClientError, match="InferenceComponentName is required"):
        _predict(runtime, COMPONENT_ENDPOINT, features, CSVSerializer(), JSONDeserializer())
