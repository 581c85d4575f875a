"""Spreading connections over the worker processes: a worker holding more of them than another waits first.

gunicorn's workers accept from one shared socket, and a worker that is idle when two connections arrive may
take both: with two keep-alive connections (batch transform with MaxConcurrentTransforms = workers) one
worker then does all the work while the other idles, half the throughput in about half the runs (measured).
Each worker counts its open connections in memory shared with the others (an anonymous mapping made before
the workers fork); before accepting, a worker that holds more than some other live worker lets the board's
defer_seconds (SERVER_ACCEPT_DEFER_MILLISECONDS) pass, so that the other one takes the connection; after that
wait it accepts anyway (a busy or starting worker never stalls a connection for longer).
The event loop's accept loop is replaced (server._BalancedServer) because it cannot be told to wait; why that
private use of uvicorn is kept, and the test that watches it: the comment above server.Worker.
"""

from __future__ import annotations

import asyncio
import mmap
import os
import socket
from collections.abc import Callable
from typing import Any

# A worker's wait before taking a connection another worker should take: long enough for an idle worker to wake on
# an idle machine, short enough that a busy one does not stall the connection noticeably.
DEFAULT_DEFER_MILLISECONDS = 20
MAX_DEFER_MILLISECONDS = 1000
# The pause after accept() failed for want of resources (file descriptors), rather than spinning on the socket.
_RETRY_SECONDS = 0.02
_SLOT = 2  # int64s per worker: its pid, its open connections


class ConnectionBoard:
    """Per worker slot: (pid, open connections). Each slot is written by its own worker only."""

    def __init__(self, slots: int, defer_seconds: float = DEFAULT_DEFER_MILLISECONDS / 1000) -> None:
        self.slots = slots
        self.defer_seconds = defer_seconds
        self._memory = mmap.mmap(-1, 8 * _SLOT * max(slots, 1))  # MAP_SHARED | MAP_ANONYMOUS: shared after fork
        self._cells = memoryview(self._memory).cast("q")
        self.slot: int | None = None  # this process's slot, set by claim() in a worker

    def free_slot(self, taken: set[int | None]) -> int | None:
        """The lowest slot no live worker holds (the master assigns it before forking the worker); None when
        gunicorn runs more workers than slots (that worker then neither counts nor defers)."""
        free = set(range(self.slots)) - taken
        return min(free) if free else None

    def claim(self, slot: int | None) -> None:
        """In the new worker: the slot is this process's, with no connection yet."""
        if slot is None:
            return
        self._cells[_SLOT * slot + 1] = 0
        self._cells[_SLOT * slot] = os.getpid()
        self.slot = slot

    def opened(self) -> None:
        if self.slot is not None:
            self._cells[_SLOT * self.slot + 1] += 1

    def closed(self) -> None:
        if self.slot is not None:
            self._cells[_SLOT * self.slot + 1] -= 1

    def open_connections(self) -> dict[int, int]:
        """{pid: open connections} of every live worker."""
        counts = {}
        for slot in range(self.slots):
            pid, count = self._cells[_SLOT * slot], self._cells[_SLOT * slot + 1]
            if pid > 0 and _alive(pid):
                counts[pid] = count
        return counts

    def should_defer(self) -> bool:
        """Whether this worker holds more connections than some other live worker."""
        if self.slot is None:
            return False
        counts = self.open_connections()
        mine = counts.pop(os.getpid(), 0)
        return bool(counts) and mine > min(counts.values())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process took the pid: not a worker of ours
        return False
    return True


class Acceptor:
    """Accepts one connection at a time from `sock` on the running loop, deferring as the board says."""

    def __init__(self, sock: socket.socket, board: ConnectionBoard, protocol_factory: Callable[[], Any]) -> None:
        self._sock = sock
        self._board = board
        self._factory = protocol_factory
        self._loop = asyncio.get_running_loop()
        self._waiting: asyncio.TimerHandle | None = None
        self._loop.add_reader(sock.fileno(), self._ready, False)

    def _ready(self, waited: bool) -> None:
        if not waited and self._board.should_defer():
            self._loop.remove_reader(self._sock.fileno())
            self._waiting = self._loop.call_later(self._board.defer_seconds, self._resume)
            return
        try:
            connection, _ = self._sock.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return  # another worker took it, or the client left
        except OSError:
            # Out of file descriptors and the like: wait a little rather than spin on a readable socket.
            self._loop.remove_reader(self._sock.fileno())
            self._waiting = self._loop.call_later(_RETRY_SECONDS, self._resume)
            return
        # Counted from here (not from the protocol's connection_made, a loop iteration later), so that a second
        # connection already waiting sees this one; the protocol's connection_lost uncounts it.
        self._board.opened()
        connection.setblocking(False)
        self._loop.create_task(self._serve(connection))

    async def _serve(self, connection: socket.socket) -> None:
        try:
            await self._loop.connect_accepted_socket(self._factory, connection)
        except OSError:  # the client left before the transport was set up
            self._board.closed()
            connection.close()

    def _resume(self) -> None:
        self._waiting = None
        self._loop.add_reader(self._sock.fileno(), self._ready, False)
        self._ready(True)

    def close(self) -> None:
        """Stop accepting (shutdown); the socket stays open for the master."""
        if self._waiting is not None:
            self._waiting.cancel()
            self._waiting = None
        self._loop.remove_reader(self._sock.fileno())
