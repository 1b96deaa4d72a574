"""Where composed emails go: an SMTP server (aiosmtplib), or .eml files when none is set."""

from __future__ import annotations

import asyncio
import copy
import re
from email.message import Message
from pathlib import Path
from typing import Literal, Protocol

import aiosmtplib
from aiosmtplib.email import extract_recipients, extract_sender


class DeliveryError(Exception):
    """A send that failed; `permanent` ones (5xx, a refused address) are never retried;
    `configuration` ones (a wrong SMTP password) are the operator's to fix, retried meanwhile."""

    def __init__(self, message: str, *, permanent: bool, configuration: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.configuration = configuration


class MailTransport(Protocol):
    """Sends one composed message; raises DeliveryError."""

    async def send(self, message: Message) -> None: ...

    async def close(self) -> None: ...


class FileTransport:
    """Writes each email as an .eml file, so `make run` shows what would be sent."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def send(self, message: Message) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        stem = re.sub(r"[^A-Za-z0-9.@-]", "", str(message["Message-ID"])) or "message"
        target = self.directory / f"{message['X-Juneplum-Kind']}-{stem}.eml"
        partial = target.with_suffix(".part")
        await asyncio.to_thread(partial.write_bytes, message.as_bytes())
        partial.replace(target)

    async def close(self) -> None:
        return None


TlsMode = Literal["none", "starttls", "tls"]


class SmtpTransport:
    """A small pool of reused SMTP connections, one per concurrent send."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        tls: TlsMode = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._host, self._port, self._tls = host, port, tls
        self._username, self._password, self._timeout = username, password, timeout
        self._idle: list[aiosmtplib.SMTP] = []

    async def _connect(self) -> aiosmtplib.SMTP:
        client = aiosmtplib.SMTP(
            hostname=self._host,
            port=self._port,
            use_tls=self._tls == "tls",
            start_tls=self._tls == "starttls",
            timeout=self._timeout,
        )
        await client.connect()
        if self._username:
            # Log in whatever the TLS setting, so a relay on loopback without TLS works.
            try:
                await client.login(self._username, self._password or "")
            except BaseException:
                client.close()
                raise
        return client

    async def send(self, message: Message) -> None:
        envelope = _envelope(message)
        client: aiosmtplib.SMTP | None = None
        try:
            if self._idle:
                client = self._idle.pop()
                try:
                    await client.sendmail(*envelope)
                    self._idle.append(client)
                    return
                except aiosmtplib.SMTPServerDisconnected:
                    # The server closed this idle connection meanwhile: one fresh try.
                    await _discard(client)
            client = await self._connect()
            await client.sendmail(*envelope)
        except aiosmtplib.SMTPException as exc:
            await _discard(client)
            raise _classify(exc) from None
        except (OSError, TimeoutError) as exc:
            await _discard(client)
            raise DeliveryError(
                f"connection failed: {type(exc).__name__}", permanent=False
            ) from None
        self._idle.append(client)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            await _discard(client, polite=True)


def _envelope(message: Message) -> tuple[str, list[str], bytes]:
    """Sender, recipients and the message written out with its own policy (compose's: SMTP
    line endings, a cheaper header fold), where `send_message` would write it again with
    plain compat32 (which also turned a body line "From " into ">From "). Bcc headers are
    the envelope's, never the message's."""
    sender = extract_sender(message)
    recipients = extract_recipients(message)
    if sender is None or not recipients:  # our bug, not the recipient's: retried, as before
        raise ValueError("the message has no From or no recipient")
    if "Bcc" in message or "Resent-Bcc" in message:
        message = copy.copy(message)
        del message["Bcc"], message["Resent-Bcc"]
    raw = message.as_bytes()
    if not raw.isascii():  # sent without BODY=8BITMIME or SMTPUTF8: compose writes 7-bit
        raise ValueError("only 7-bit messages are sent")
    return sender, recipients, raw


def _classify(exc: aiosmtplib.SMTPException) -> DeliveryError:
    code: int | None = getattr(exc, "code", None)
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        code = exc.recipients[0].code
    text = " ".join(str(getattr(exc, "message", exc)).split())[:200]
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        # A wrong password is the operator's to fix: keep the mail and keep retrying.
        return DeliveryError(
            f"{code} authentication failed: check SMTP_USERNAME and SMTP_PASSWORD",
            permanent=False,
            configuration=True,
        )
    permanent = code is not None and 500 <= code < 600
    return DeliveryError(f"{code or 'smtp'} {text}".strip(), permanent=permanent)


async def _discard(client: aiosmtplib.SMTP | None, *, polite: bool = False) -> None:
    if client is None or not client.is_connected:
        return
    try:
        if polite:
            await client.quit()
        else:
            client.close()
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        client.close()
