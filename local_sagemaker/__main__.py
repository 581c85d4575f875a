"""`python -m local_sagemaker -H 127.0.0.1 -p PORT [--work-dir DIR]`: moto with the local SageMaker, until SIGTERM.

Control API (besides every AWS API moto serves on the same port):
    POST /local-sagemaker/spot-interruptions  {"job_name_prefix": "..."}
interrupts the next managed-spot training job whose name starts with the prefix, once: the container
gets SIGTERM after its first metrics line, the checkpoints are synced, and the job restarts from them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from types import FrameType
from typing import Any

from werkzeug.serving import make_server

CONTROL_PREFIX = "/local-sagemaker/"
SPOT_INTERRUPTIONS = CONTROL_PREFIX + "spot-interruptions"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_sagemaker", description=__doc__.split("\n\n")[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    parser.add_argument("--work-dir", type=Path, help="where job trees go (default: a temporary folder, removed)")
    args = parser.parse_args(argv)
    # moto's Step Functions interpreter calls the services on localhost:MOTO_PORT.
    os.environ["MOTO_PORT"] = str(args.port)
    from moto.moto_server.werkzeug_app import (  # noqa: PLC0415
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )

    from local_sagemaker import moto_hooks  # noqa: PLC0415
    from local_sagemaker.aws import Aws  # noqa: PLC0415
    from local_sagemaker.runtime import LocalSageMaker  # noqa: PLC0415

    work = args.work_dir or Path(tempfile.mkdtemp(prefix="local-sagemaker-"))
    local = LocalSageMaker(Aws(f"http://{args.host}:{args.port}"), work)
    moto_hooks.install(local)
    app = _with_control(DomainDispatcherApplication(create_backend_app), local)

    class QuietHandler(MotoRequestHandler):
        def log_request(self, *_args: Any) -> None:
            """No access log: every poll of a running job would be a line."""

    server = make_server(args.host, args.port, app, threaded=True, request_handler=QuietHandler)

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    print(f"local SageMaker on http://{args.host}:{args.port} (work: {work})", flush=True)  # noqa: T201
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        local.shutdown()
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def _with_control(app: Any, local: Any) -> Callable[[dict[str, Any], Any], Iterable[bytes]]:
    """The WSGI app: the control API under /local-sagemaker/, everything else to moto."""

    def wsgi(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(CONTROL_PREFIX):
            return app(environ, start_response)  # type: ignore[no-any-return]
        status, body = _control(environ, path, local)
        start_response(status, [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]

    return wsgi


def _control(environ: dict[str, Any], path: str, local: Any) -> tuple[str, dict[str, Any]]:
    if path != SPOT_INTERRUPTIONS or environ.get("REQUEST_METHOD") != "POST":
        return "404 Not Found", {"error": f"unknown control path {path}; POST {SPOT_INTERRUPTIONS} exists"}
    length = int(environ.get("CONTENT_LENGTH") or 0)
    try:
        document = json.loads(environ["wsgi.input"].read(length) or b"{}")
        prefix = str(document["job_name_prefix"])
    except (ValueError, KeyError, TypeError):
        return "400 Bad Request", {"error": 'send {"job_name_prefix": "<training job name prefix>"}'}
    local.interruptions.request(prefix)
    return "200 OK", {"requested": prefix}


if __name__ == "__main__":
    sys.exit(main())
