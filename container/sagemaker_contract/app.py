"""The inference HTTP application (raw ASGI: no framework between the server and the model).

GET /ping, POST /invocations, GET /execution-parameters. The model is loaded in the ASGI lifespan
start-up of each worker process, before that worker accepts its first connection, so any worker that
answers /ping has its model.
"""

from __future__ import annotations

import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from sagemaker_contract import codecs, logs
from sagemaker_contract.errors import BadRequestError
from sagemaker_contract.protocol import Algorithm, Model

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
MIB = 1024 * 1024
_TEXT = b"text/plain; charset=utf-8"


@dataclass(frozen=True)
class ServeOptions:
    """What the application needs to know about its server."""

    max_payload_mb: int
    workers: int
    cache_dir: Path


class _ClientGone(Exception):  # noqa: N818 - control flow, not an error
    pass


class InferenceApp:
    def __init__(self, algorithm: Algorithm[Any], model_dir: Path, options: ServeOptions) -> None:
        self._algorithm = algorithm
        self._model_dir = model_dir
        self._cache_dir = options.cache_dir
        self._limit = options.max_payload_mb * MIB
        self._limit_mb = options.max_payload_mb
        self._metrics = logs.RequestMetrics.from_environment()
        self._execution_parameters = msgspec.json.encode(
            {
                "MaxConcurrentTransforms": options.workers,
                "BatchStrategy": "MULTI_RECORD",
                "MaxPayloadInMB": options.max_payload_mb,
            }
        )
        self.model: Model | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    started = time.perf_counter()
                    self.model = self._algorithm.load(self._model_dir)
                except Exception as error:
                    logs.emit("error", "model_load_failed", error=f"{type(error).__name__}: {error}")
                    await send({"type": "lifespan.startup.failed", "message": str(error)})
                    return
                seconds = round(time.perf_counter() - started, 4)
                logs.emit("info", "model_loaded", seconds=seconds, num_features=self.model.num_features)
                self.model.accelerate(self._cache_dir)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        method, path = scope["method"], scope["path"]
        headers = dict(scope["headers"])
        request_id = (headers.get(b"x-amzn-requestid") or uuid.uuid4().hex.encode()).decode("latin-1")
        content_type = _TEXT
        rows = received = 0
        error = None
        try:
            if path == "/invocations":
                if method != "POST":
                    raise BadRequestError(405, "use POST for /invocations")
                body, content_type, rows, received = await self._invoke(headers, receive)
                status = 200
            elif path == "/ping":
                if method not in {"GET", "HEAD"}:
                    raise BadRequestError(405, "use GET for /ping")
                status, body = (200, b"") if self.model is not None else (503, b"model not loaded\n")
            elif path == "/execution-parameters":
                status, body, content_type = 200, self._execution_parameters, b"application/json"
            else:
                raise BadRequestError(404, f"no such path {path!r}; use /invocations, /ping or /execution-parameters")
        except BadRequestError as rejected:
            status, body, error = rejected.status, (rejected.message + "\n").encode(), rejected.log_message
        except _ClientGone:
            status, body, error = 499, b"", "client closed the connection"
        except Exception as fault:
            # No payload in the log: the traceback names code, not data.
            status, error = 500, f"{type(fault).__name__} (traceback follows)"
            body = f"internal error; request id {request_id}\n".encode()
            logs.emit("error", "fault", request_id=request_id, traceback=traceback.format_exc())
        if status != 499:
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", content_type),
                        (b"content-length", str(len(body)).encode()),
                        (b"x-request-id", request_id.encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
        if path == "/ping" and status == 200:
            return  # health checks every few seconds would drown the log
        fields = self._metrics.fields(status, rows) if path == "/invocations" else {}
        logs.emit(
            "info" if status < 500 else "error",
            "request",
            request_id=request_id,
            method=method,
            path=path,
            status=status,
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
            rows=rows,
            request_bytes=received,
            response_bytes=len(body),
            error=error,
            **fields,
        )

    async def _invoke(self, headers: dict[bytes, bytes], receive: Receive) -> tuple[bytes, bytes, int, int]:
        if self.model is None:
            raise BadRequestError(503, "model not loaded yet")
        request_type = codecs.input_type(_header(headers, b"content-type"))
        response_type = codecs.output_type(_header(headers, b"accept"), request_type)
        body = await self._read_body(headers, receive)
        features = codecs.decode(body, request_type, self.model.num_features)
        predictions = self.model.predict(features)
        return codecs.encode(predictions, response_type), response_type.encode(), len(features), len(body)

    async def _read_body(self, headers: dict[bytes, bytes], receive: Receive) -> bytes:
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._limit:
            raise self._too_large(int(declared))
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._limit:
                raise self._too_large(size)
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks) if len(chunks) > 1 else chunks[0]

    def _too_large(self, size: int) -> BadRequestError:
        return BadRequestError(
            413,
            f"the body has {size} bytes, over the limit of {self._limit_mb} MB ({self._limit} bytes); "
            "split it into smaller requests (limit: SAGEMAKER_MAX_PAYLOAD_IN_MB)",
        )


def _header(headers: dict[bytes, bytes], name: bytes) -> str | None:
    value = headers.get(name)
    return value.decode("latin-1") if value is not None else None
