"""The inference HTTP application (raw ASGI: no framework between the server and the model).

GET /ping, POST /invocations, GET /execution-parameters. The model is loaded in the ASGI lifespan
start-up of each worker process, before that worker accepts its first connection, so any worker that
answers /ping has its model.
"""

from __future__ import annotations

import re
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from sagemaker_contract import codecs, interface, logs
from sagemaker_contract.errors import BadRequestError, ErrorKind
from sagemaker_contract.protocol import Algorithm, Model
from sagemaker_contract.request_log import RequestLog, RequestLogSettings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
MIB = 1024 * 1024
_TEXT = b"text/plain; charset=utf-8"
# The methods each path serves (RFC 9110: anything else is 405 with Allow).
ROUTES = {"/invocations": ("POST",), "/ping": ("GET", "HEAD"), "/execution-parameters": ("GET", "HEAD")}
_ALLOW = {path: ", ".join(methods).encode() for path, methods in ROUTES.items()}
# SageMaker's request ids are UUIDs; anything else a caller sends is replaced, so no caller text reaches the log.
_REQUEST_ID = re.compile(rb"[A-Za-z0-9-]{1,128}")
_IDENTITY = (b"", b"identity")
# Set in the ASGI scope's state by the server when a request's body missed its deadline (it answered 408 itself).
TIMED_OUT = "sagemaker.timed_out"


@dataclass(frozen=True)
class ServeOptions:
    """What the application needs to know about its server."""

    max_payload_mb: int
    workers: int
    cache_dir: Path
    log: RequestLogSettings
    # What SAGEMAKER_MAX_PAYLOAD_IN_MB asked for, when the server lowered it to fit its memory.
    requested_max_payload_mb: int | None = None


class _ClientGone(Exception):  # noqa: N818 - control flow, not an error
    pass


class InferenceApp:
    def __init__(self, algorithm: Algorithm[Any], model_dir: Path, options: ServeOptions) -> None:
        self._algorithm = algorithm
        self._model_dir = model_dir
        self._cache_dir = options.cache_dir
        self._limit = options.max_payload_mb * MIB
        self._limit_mb = options.max_payload_mb
        requested = options.requested_max_payload_mb
        self._limit_reason = (
            f"{interface.MAX_PAYLOAD_MB}={requested}, lowered to what this instance's memory decodes per worker"
            if requested is not None and requested > options.max_payload_mb
            else interface.MAX_PAYLOAD_MB
        )
        self._log = RequestLog(options.log)
        self._execution_parameters = msgspec.json.encode(
            {
                "MaxConcurrentTransforms": options.workers,
                "BatchStrategy": "MULTI_RECORD",
                "MaxPayloadInMB": min(options.max_payload_mb, interface.BATCH_MAX_PAYLOAD_MB),
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
                self._log.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self._log.close()  # after the in-flight requests: the server drains them first
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        method, path = scope["method"], scope["path"]
        headers = dict(scope["headers"])
        given_id = headers.get(b"x-amzn-requestid", b"")
        request_id = given_id.decode() if _REQUEST_ID.fullmatch(given_id) else uuid.uuid4().hex
        content_type = _TEXT
        extra_headers: tuple[tuple[bytes, bytes], ...] = ()
        rows = received = 0
        gone = False
        error: str | None = None
        kind: ErrorKind | None = None
        fault_fields: dict[str, str] = {}
        try:
            allowed = ROUTES.get(path)
            if allowed is None:
                raise BadRequestError(
                    404, f"no such path {path!r}; use /invocations, /ping or /execution-parameters", "no such path"
                )
            if method not in allowed:
                raise BadRequestError(
                    405,
                    f"{path} serves {' and '.join(allowed)}, not {method}",
                    f"method {method} not allowed",
                    headers=((b"allow", _ALLOW[path]),),
                )
            if path == "/invocations":
                body, content_type, rows, received = await self._invoke(headers, receive)
                status = 200
            elif path == "/ping":
                status, body = (200, b"") if self.model is not None else (503, b"model not loaded\n")
            else:
                status, body, content_type = 200, self._execution_parameters, b"application/json"
        except BadRequestError as rejected:
            status, body, error = rejected.status, (rejected.message + "\n").encode(), rejected.log_message
            kind, extra_headers = rejected.kind, rejected.headers
            received = received or _declared_length(headers)
        except _ClientGone:
            # The server's deadline (server.DeadlineProtocol) answered 408 and closed, or the client left.
            gone, body, kind = True, b"", "client"
            status, error = (
                (408, "body not complete in time") if scope.get("state", {}).get(TIMED_OUT) else (499, "client left")
            )
        except Exception as fault:
            # No payload in the log: the frames name code; the exception's message may quote data, so not logged.
            status, error = 500, f"{type(fault).__name__} (traceback in this line)"
            body = f"internal error; request id {request_id}\n".encode()
            fault_fields = {"traceback": "".join(traceback.format_tb(fault.__traceback__))}
        if not gone:
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", content_type),
                        (b"content-length", str(len(body)).encode()),
                        (b"x-request-id", request_id.encode()),
                        *extra_headers,
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
        if path == "/ping" and status == 200:
            return  # health checks every few seconds would drown the log and the summary's counts
        latency_ms = (time.perf_counter() - started) * 1000
        if not self._log.request(status, error, latency_ms, (rows, kind) if path == "/invocations" else None):
            return
        logs.emit(
            "info" if status < 500 else "error",
            "request",
            request_id=request_id,
            method=method,
            path=path if path in ROUTES else "(other)",  # an unknown path is the caller's text
            status=status,
            latency_ms=round(latency_ms, 3),
            rows=rows,
            request_bytes=received,
            response_bytes=len(body),
            error=error,
            error_kind=kind,
            **fault_fields,
        )

    async def _invoke(self, headers: dict[bytes, bytes], receive: Receive) -> tuple[bytes, bytes, int, int]:
        if self.model is None:
            raise BadRequestError(503, "model not loaded yet")
        coding = headers.get(b"content-encoding", b"").strip().lower()
        if coding not in _IDENTITY:
            raise BadRequestError(
                415,
                f"Content-Encoding {coding.decode('latin-1')!r} is not supported; send the body uncompressed",
                "Content-Encoding not supported",
                headers=((b"accept-encoding", b"identity"),),
            )
        request_type = codecs.input_type(_header(headers, b"content-type"))
        response_type = codecs.output_type(_header(headers, b"accept"), request_type)
        body = await self._read_body(headers, receive)
        features = codecs.decode(body, request_type, self.model.num_features)
        predictions = self.model.predict(features)
        return codecs.encode(predictions, response_type), response_type.encode(), len(features), len(body)

    async def _read_body(self, headers: dict[bytes, bytes], receive: Receive) -> bytes:
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and (len(declared) > 18 or int(declared) > self._limit):
            raise self._too_large(declared.decode())
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

    def _too_large(self, size: int | str) -> BadRequestError:
        return BadRequestError(
            413,
            f"the body has {size} bytes, over the limit of {self._limit_mb} MB ({self._limit} bytes); "
            f"split it into smaller requests (limit: {self._limit_reason})",
        )


def _declared_length(headers: dict[bytes, bytes]) -> int:
    """The body size the caller declared (what a rejected request's log line reports; 0 when chunked)."""
    declared = headers.get(b"content-length", b"")
    return int(declared) if declared.isdigit() and len(declared) <= 18 else 0


def _header(headers: dict[bytes, bytes], name: bytes) -> str | None:
    value = headers.get(name)
    return value.decode("latin-1") if value is not None else None
