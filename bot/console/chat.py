"""The console conversation: lines in, rendered replies and live alerts out."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import sys
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from bot import logs
from bot.console import render as console_render
from bot.errors import CannotStart
from core import wording
from core.chat import ChatDesk, cancel_reason
from core.commands import Act, Command, CommandError
from core.errors import DomainError
from core.feed import EventCursor
from core.lifecycle import Move
from core.model import Actor, ActorKind, Business, Channel
from core.ports import EventFeed
from core.replies import Problem

QUIT_WORDS = {"quit", "exit", ":q"}
PROMPT = "bookings> "
log = logs.get("bot.console")


class ConsoleChat:
    """One owner's conversation: lines in, rendered replies and live alerts out."""

    def __init__(
        self, chat: ChatDesk, feed: EventFeed, business: Business, out: Console, actor: Actor
    ) -> None:
        self.chat = chat
        self.desk = chat.desk
        self.feed = feed
        self.business = business
        self.out = out
        self.actor = actor
        self._cancel_waiting: Act | None = None  # a `cancel 42` waiting for its reason
        self._cursor: EventCursor | None = None  # set by start_watching

    async def say(self, line: str) -> bool:
        """Handle one typed line; False when the owner wants to leave.

        The console's one error handler: whatever goes wrong, the owner gets one plain line
        and the conversation (and the server it is attached to) goes on.
        """
        try:
            return await self._say(line)
        except Exception as exc:
            log.error("console.unexpected", error=type(exc).__name__)
            self.out.print(
                Text("Something went wrong there; nothing was changed. Try again.", style="red")
            )
            return True

    async def _say(self, line: str) -> bool:
        if self._cancel_waiting is not None:
            waiting, self._cancel_waiting = self._cancel_waiting, None
            try:
                reason = cancel_reason(line)
            except CommandError as err:
                self.out.print(console_render.render(Problem(str(err))))
                return True
            await self._run(Act(Move.CANCEL, waiting.booking_id, reason))
            return True
        text = line.strip()
        if not text:
            return True
        if text.lower() in QUIT_WORDS:
            return False
        try:
            command = self.desk.parse(self.business, text)
        except CommandError as err:
            self.out.print(console_render.render(Problem(str(err))))
            return True
        if isinstance(command, Act) and command.move is Move.CANCEL and command.reason is None:
            try:
                booking = await self.desk.booking(self.business, command.booking_id)
            except DomainError as err:
                self.out.print(console_render.render(Problem(wording.domain_error(err))))
                return True
            self._cancel_waiting = command
            question = wording.cancel_question(booking, self.business.zone)
            self.out.print(console_render.plain(f"{question} (Enter skips.)"))
            return True
        await self._run(command)
        return True

    async def _run(self, command: Command) -> None:
        reply = await self.desk.run(self.business, command, self.actor)
        self.out.print(console_render.render(reply))

    async def start_watching(self, after: int | None = None) -> EventCursor:
        """Alert on what happens after event `after`; by default, from now on."""
        start = await self.feed.last_event_id() if after is None else after
        self._cursor = EventCursor(after=start)
        return self._cursor

    async def check_alerts(self) -> int:
        """Show events that came from elsewhere since the last check; returns how many."""
        cursor = self._cursor or await self.start_watching()
        shown = 0
        found = await self.feed.events_after(cursor.floor, business_id=self.business.id, limit=500)
        for event in cursor.take(found, datetime.now(UTC)):  # wall clock: a grace period
            if event.actor == self.actor:
                continue  # this console's own change: already answered inline
            content = await self.chat.event_content(event)
            if content is None:
                continue
            self.out.print(console_render.alert(content))
            shown += 1
        return shown

    async def watch(self, every: float = 0.5) -> None:
        """Follow the events stream until cancelled; a failed check is logged and retried."""
        while True:
            await asyncio.sleep(every)
            try:
                await self.check_alerts()
            except Exception as exc:
                log.warning("console.alerts_failed", error=type(exc).__name__)

    async def run(self, lines: AsyncIterator[str]) -> None:
        """The whole conversation: greet, then handle lines and alerts until quit or EOF."""
        self.out.print(
            f"[bold]Juneplum console — {escape(self.business.name)}[/] "
            f"({self.business.timezone}). Type `help`, `today`, `#42`… or `quit`."
        )
        if self._cursor is None:
            await self.start_watching()
        watcher = asyncio.create_task(self.watch())
        try:
            async for line in lines:
                if not await self.say(line):
                    break
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher


async def stdin_lines(prompt: str = PROMPT) -> AsyncIterator[str]:
    """Lines typed on the terminal, read by a daemon thread so shutdown never waits on Enter.

    The prompt is shown only once the previous line's answer has been printed.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    wanted = threading.Event()
    interactive = sys.stdin.isatty()

    def pump() -> None:
        while True:
            wanted.wait()
            wanted.clear()
            if interactive:
                sys.stdout.write(prompt)
                sys.stdout.flush()
            line = sys.stdin.readline()
            loop.call_soon_threadsafe(queue.put_nowait, line if line else None)
            if not line:
                return

    threading.Thread(target=pump, name="console-stdin", daemon=True).start()
    while True:
        wanted.set()
        line = await queue.get()
        if line is None:
            return
        yield line


class ConsoleSetupError(CannotStart):
    """The console can't start; the message says what to do."""


def console_choices(businesses: list[Business], business_id: int | None) -> list[Business]:
    """The businesses a console may open: the one asked for, or all of them.

    Raises:
        ConsoleSetupError: no such business, or none at all.
    """
    found = businesses
    if business_id is not None:
        found = [b for b in found if b.id == business_id]
        if not found:
            raise ConsoleSetupError(
                f"There is no business {business_id}. See `juneplum business list`."
            )
    if not found:
        raise ConsoleSetupError("No business yet: run `juneplum demo` or `juneplum business add`.")
    return found


async def open_console(
    chat: ChatDesk,
    feed: EventFeed,
    businesses: list[Business],
    business_id: int | None,
    out: Console,
) -> ConsoleChat:
    """A console for the given business, the only one, or the one the owner picks.

    Alerts start from when it opens: a booking that arrives while the owner picks a business
    is still shown.
    """
    found = console_choices(businesses, business_id)
    since = await feed.last_event_id()
    chosen = found[0]
    if len(found) > 1:
        out.print("Which business?")
        for b in found:
            out.print(f"  {b.id}) {escape(b.name)} ({b.timezone})")
        by_id = {str(b.id): b for b in found}
        async for answer in stdin_lines("business id> "):
            if answer.strip() in by_id:
                chosen = by_id[answer.strip()]
                break
            out.print("Type one of the ids above.")
        else:
            raise ConsoleSetupError("No business chosen.")
    # Each console is its own owner, so two consoles see each other's moves as alerts.
    user = getpass.getuser()
    actor = Actor(
        ActorKind.OWNER, Channel.CONSOLE, f"{user} (console {os.getpid()})", f"{user}:{os.getpid()}"
    )
    console = ConsoleChat(chat, feed, chosen, out, actor)
    await console.start_watching(after=since)
    return console
