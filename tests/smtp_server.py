"""A real SMTP server (aiosmtpd) on loopback that records what it accepts and can misbehave."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mailbox:
    """aiosmtpd handler: keeps every accepted message; answers DATA from a script if given."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []
        self.data_replies: list[str] = []  # e.g. ["421 try later"], used one per DATA
        self.refuse_recipients: dict[str, str] = {}  # address -> "550 no such user"
        self.data_delay = 0.0  # seconds the server takes to accept a message
        self.receiving = threading.Event()  # set when a DATA command arrives
        self.on_accept: Callable[[], None] | None = None  # run as each message is accepted
        self._lock = threading.Lock()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address in self.refuse_recipients:
            return self.refuse_recipients[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.receiving.set()
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        with self._lock:
            if self.data_replies:
                return self.data_replies.pop(0)
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            self.messages.append(message)
            self.recipients.append(list(envelope.rcpt_tos))
            if self.on_accept is not None:
                self.on_accept()
        return "250 Message accepted"

    def kinds(self) -> list[str]:
        return [str(m["X-Juneplum-Kind"]) for m in self.messages]

    def of_kind(self, kind: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["X-Juneplum-Kind"] == kind]


class SmtpServer:
    def __init__(self, *, credentials: tuple[str, str] | None = None) -> None:
        self.mailbox = Mailbox()
        self.port = free_port()
        self.logins: list[str] = []
        self._credentials = credentials
        self._controller: Controller | None = None

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and self._credentials == (
            data.login.decode(),
            data.password.decode(),
        )
        if ok:
            self.logins.append(data.login.decode())
        # handled=False: aiosmtpd answers a failure with 535 (by default it waits for the
        # authenticator to answer, and the client times out)
        return AuthResult(success=ok, handled=False)

    def start(self) -> None:
        kwargs: dict[str, Any] = {}
        if self._credentials:
            kwargs = {"authenticator": self._authenticate, "auth_require_tls": False}
        self._controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port, **kwargs)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
