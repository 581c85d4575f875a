"""What the balanced server (sagemaker_contract/server.py, balance.py) takes from its libraries beyond their docs.

The server subclasses uvicorn's httptools protocol and reads its state, overrides uvicorn-worker's `_serve`,
and accepts through `balance.Acceptor` instead of the event loop's server (why: container/README.md,
"Connections spread over the workers", and benchmarks/README.md). None of that is a documented API, so a new
release may drop it without notice. Each check below names one thing the server relies on; when an installed
version no longer has it the failure names the library, its installed and pinned versions and the attribute,
before a worker fails in an image at run time.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import textwrap
from collections.abc import Callable

import pytest
import sagemaker_contract.server as server  # noqa: PLR0402 - mypy resolves the whole module (test_container_units)
from gunicorn.arbiter import Arbiter  # type: ignore[import-untyped]
from gunicorn.workers.base import Worker as GunicornWorker  # type: ignore[import-untyped]
from uvicorn.config import Config
from uvicorn.lifespan.on import LifespanOn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import Server
from uvicorn_worker import UvicornWorker  # type: ignore[import-untyped]

from tests.container.harness import CONTAINER

REQUIREMENTS = CONTAINER / "requirements.txt"


def _pins() -> dict[str, str]:
    pins = {}
    for line in REQUIREMENTS.read_text().splitlines():
        name, separator, version = line.split("#")[0].strip().partition("==")
        if separator:
            pins[name.lower()] = version
    return pins


def _assigns(cls: type, attribute: str) -> Callable[[], bool]:
    """Whether the class's own source sets `self.<attribute>` (instance state has no other trace to look at)."""
    return lambda: f"self.{attribute} =" in inspect.getsource(cls) or f"self.{attribute}: " in inspect.getsource(cls)


def _has(cls: type, attribute: str) -> Callable[[], bool]:
    return lambda: callable(getattr(cls, attribute, None))


def _parameters(function: Callable[..., object], *names: str) -> Callable[[], bool]:
    return lambda: set(names) <= set(inspect.signature(function).parameters)


def _copied_by_worker(upstream: Callable[..., object]) -> bool:
    """Whether server.Worker._serve still holds each statement of uvicorn-worker's `_serve`, in order (with the
    balanced server for uvicorn's): it copies that private method, so a change upstream must be carried over."""
    ours = [line.strip() for line in inspect.getsource(server.Worker._serve).splitlines()[1:]]
    theirs = [line.strip() for line in textwrap.dedent(inspect.getsource(upstream)).splitlines()[1:]]
    remaining = iter(ours)
    return all(line.replace("Server(", "_BalancedServer(") in remaining for line in theirs if line)


# (library, what the server relies on, the check, where and why)
RELIED_ON: list[tuple[str, str, Callable[[], bool], str]] = [
    *(
        ("uvicorn", f"HttpToolsProtocol.{name}()", _has(HttpToolsProtocol, name), "server.DeadlineProtocol extends it")
        for name in (
            "connection_made",
            "connection_lost",
            "on_message_begin",
            "on_headers_complete",
            "on_message_complete",
            "timeout_keep_alive_handler",
        )
    ),
    *(
        ("uvicorn", f"HttpToolsProtocol.{name}", _assigns(HttpToolsProtocol, name), "server.DeadlineProtocol reads it")
        for name in ("loop", "transport", "cycle", "timeout_keep_alive", "timeout_keep_alive_task")
    ),
    *(
        ("uvicorn", f"RequestResponseCycle.{name}", _assigns(RequestResponseCycle, name), "DeadlineProtocol._late")
        for name in ("response_started", "scope")
    ),
    (
        "uvicorn",
        "HttpToolsProtocol(config, server_state, app_state, _loop)",
        _parameters(HttpToolsProtocol.__init__, "config", "server_state", "app_state", "_loop"),
        "server._BalancedServer builds the protocol for each accepted connection",
    ),
    *(
        ("uvicorn", f"Server.{name}(sockets=)", _parameters(getattr(Server, name), "sockets"), "server._BalancedServer")
        for name in ("startup", "shutdown", "serve")
    ),
    *(
        ("uvicorn", f"Server.{name}", _assigns(Server, name), "server._BalancedServer and server.Worker read it")
        for name in ("config", "server_state", "lifespan", "started")
    ),
    ("uvicorn", "LifespanOn.state", _assigns(LifespanOn, "state"), "the app state each protocol is given"),
    ("uvicorn", "Config.http_protocol_class", _assigns(Config, "http_protocol_class"), "server._BalancedServer"),
    ("uvicorn-worker", "UvicornWorker.CONFIG_KWARGS", lambda: isinstance(UvicornWorker.CONFIG_KWARGS, dict), "Worker"),
    ("uvicorn-worker", "UvicornWorker._install_sigquit_handler()", _has(UvicornWorker, "_install_sigquit_handler"), ""),
    (
        "uvicorn-worker",
        "UvicornWorker._serve() as server.Worker._serve copies it",
        lambda: _copied_by_worker(UvicornWorker._serve),
        "server.Worker overrides it to serve through the balanced server",
    ),
    *(
        ("gunicorn", f"Worker.{name}", _assigns(GunicornWorker, name), "server.Worker._serve reads it")
        for name in ("wsgi", "sockets")
    ),
    ("gunicorn", "Arbiter.WORKERS", lambda: isinstance(Arbiter.WORKERS, dict), "server._pre_fork reads the workers"),
    ("gunicorn", "Arbiter.WORKER_BOOT_ERROR", lambda: isinstance(Arbiter.WORKER_BOOT_ERROR, int), "server.Worker"),
]


@pytest.mark.parametrize(("library", "what", "check", "why"), RELIED_ON, ids=[f"{r[0]} {r[1]}" for r in RELIED_ON])
def test_the_installed_library_still_has_what_the_balanced_server_relies_on(
    library: str, what: str, check: Callable[[], bool], why: str
) -> None:
    installed, pinned = importlib.metadata.version(library), _pins()[library]
    assert check(), (
        f"{library} {installed} (container/requirements.txt pins {pinned}) no longer has {what}, which the "
        f"balanced server relies on ({why or 'server.Worker'}): adapt container/sagemaker_contract/server.py or "
        "balance.py, or keep the pin"
    )


@pytest.mark.parametrize("library", ["uvicorn", "uvicorn-worker", "gunicorn"])
def test_the_checked_version_is_the_pinned_one(library: str) -> None:
    """GIVEN the libraries the checks above read WHEN compared with the image's pins THEN they are the same
    versions, so the checks speak of what the image runs (a pin moved without a reinstall fails here)."""
    assert importlib.metadata.version(library) == _pins()[library], (
        f"{library} {importlib.metadata.version(library)} is installed, container/requirements.txt pins "
        f"{_pins()[library]}: reinstall the container's requirements before trusting the checks of private use"
    )
