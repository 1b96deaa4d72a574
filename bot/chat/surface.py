"""A chat platform as `juneplum serve` runs it: beside the API, mail and reminders.

Each adapter (Slack, Telegram) is one Surface: it mounts its webhook routes on the same ASGI
server as the intake API, starts what it needs (a webhook registration, long polling, a socket)
and stops within the service's shutdown grace. Its `sender` is what durable deliveries post
and edit through.
"""

from __future__ import annotations

from typing import Protocol

from fastapi import FastAPI

from bot.chat.sending import ChatSender
from core.chat import Platform


class Surface(Protocol):
    platform: Platform
    sender: ChatSender

    def mount(self, api: FastAPI) -> None:
        """Add the platform's HTTP routes (webhooks) to the service's one ASGI app."""
        ...

    async def start(self) -> None:
        """Begin receiving (register a webhook, start polling or a socket); fail clearly."""
        ...

    async def stop(self) -> None:
        """Stop receiving and close clients; quick, whatever state the platform is in."""
        ...
