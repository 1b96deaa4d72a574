"""A TCP proxy a test opens and closes between the service and a real server: an outage of
that server as the service sees it (connections reset, new ones refused), without touching
the server itself."""

from __future__ import annotations

import asyncio
import contextlib
import socket


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = _free_port()
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()

    def stall(self) -> None:
        """Keep every connection open but pass nothing on: a server that stopped answering."""
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    async def open(self) -> None:
        """Listen on `port` and pass everything through to the target."""
        self._server = await asyncio.start_server(
            self._link, "127.0.0.1", self.port, reuse_address=True
        )

    async def close(self) -> None:
        """Stop listening (new connections are refused) and reset every connection."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._links):
            writer.transport.abort()
        self._links.clear()
        if server is not None:
            await server.wait_closed()

    async def _link(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        with contextlib.suppress(asyncio.CancelledError):  # the test's loop is closing
            await self._flowing.wait()
            try:
                server_in, server_out = await asyncio.open_connection(*self.target)
            except OSError:
                client_out.transport.abort()
                return
            self._links |= {client_out, server_out}
            pipes = {
                asyncio.create_task(_pipe(client_in, server_out, self._flowing)),
                asyncio.create_task(_pipe(server_in, client_out, self._flowing)),
            }
            try:
                # When either side closes, so does the other (a client that says goodbye
                # waits for the server to hang up).
                await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for writer in (client_out, server_out):
                    self._links.discard(writer)
                    writer.transport.abort()
                for pipe in pipes:
                    pipe.cancel()


async def _pipe(
    source: asyncio.StreamReader, sink: asyncio.StreamWriter, flowing: asyncio.Event
) -> None:
    with contextlib.suppress(OSError):
        while data := await source.read(65536):
            await flowing.wait()
            sink.write(data)
            await sink.drain()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
