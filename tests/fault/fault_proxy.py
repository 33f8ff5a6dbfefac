"""A TCP proxy in the test's event loop, between the servers and a backend (Redis, PostgreSQL),
that fails the way networks do: it can black-hole every connection (bytes stop in both
directions, nothing is closed, new connections are accepted and stall too) and resume, or cut
every connection at once."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from support import free_port

CHUNK = 65536


@dataclass(eq=False)
class _Link:
    client: asyncio.StreamWriter
    backend: asyncio.StreamWriter | None = None


@dataclass
class FaultProxy:
    backend_port: int
    backend_host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    _server: asyncio.Server | None = None
    _flowing: asyncio.Event = field(default_factory=asyncio.Event)
    _links: set[_Link] = field(default_factory=set)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> None:
        self._flowing.set()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self.cut()
        self._flowing.set()  # what was held ends: its connections are closed
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        if self._server is not None:
            await self._server.wait_closed()

    def black_hole(self) -> None:
        """Stop forwarding, both ways, on every connection; close none."""
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def cut(self) -> None:
        """Close every connection, both sides, at once (a reset); new ones are accepted."""
        for link in list(self._links):
            self._close(link)

    def _close(self, link: _Link) -> None:
        self._links.discard(link)
        for writer in (link.client, link.backend):
            if writer is not None:
                with contextlib.suppress(Exception):
                    writer.transport.abort()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        link = _Link(writer)
        self._links.add(link)
        try:
            await self._flowing.wait()  # a black hole holds new connections too
            if link not in self._links:  # cut meanwhile
                return
            try:
                backend_r, backend_w = await asyncio.open_connection(
                    self.backend_host, self.backend_port
                )
            except OSError:
                return  # the backend is down: the client sees its connection closed
            link.backend = backend_w
            if link not in self._links:  # cut meanwhile
                return
            await asyncio.gather(self._pipe(reader, backend_w), self._pipe(backend_r, writer))
        finally:
            self._close(link)
            self._tasks.discard(task)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(CHUNK):
                await self._flowing.wait()  # held, not dropped, while black-holed
                writer.write(data)
                await writer.drain()
        with contextlib.suppress(Exception):
            writer.transport.abort()
