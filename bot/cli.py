"""The `juneplum` command: serve, migrate, businesses, demo data and the console."""

from __future__ import annotations

import json
import re
import sqlite3
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from email_validator import EmailNotValidError, validate_email
from pydantic import ValidationError
from rich.console import Console
from rich.text import Text
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError

from bot import calendar_feed, logs, runtime
from bot.app import Services, build_services
from bot.console.chat import open_console, stdin_lines
from bot.demo import seed_demo
from bot.errors import CannotStart
from bot.keys import new_api_key
from bot.settings import Settings
from core import gct, periods
from core.chat import LINK_CODE_TTL, QueuedChat
from core.commands import CommandError, read_date
from core.errors import BusinessNotFound
from core.model import Booking, Business
from core.notifications import DeliveryStatus, QueuedMail
from storage.database import driver_url

app = typer.Typer(help="Juneplum Bookings: the chat-first booking desk.", no_args_is_help=True)
business_app = typer.Typer(help="Add, change and list businesses.", no_args_is_help=True)
app.add_typer(business_app, name="business")
outbox_app = typer.Typer(help="Mail that is pending or failed; retry a failed one.")
app.add_typer(outbox_app, name="outbox")
export_app = typer.Typer(help="Bookings for your accountant.", no_args_is_help=True)
app.add_typer(export_app, name="export")

err = Console(stderr=True, soft_wrap=True)  # messages hold paths: the terminal wraps them
T = TypeVar("T")


def _settings() -> Settings:
    try:
        settings = Settings()
    except ValidationError as exc:
        for e in exc.errors():
            field = ".".join(map(str, e["loc"])).upper() or "SETTINGS"
            err.print(Text(f"Configuration error: {field}: {e['msg']}", style="red"))
        raise typer.Exit(2) from None
    logs.configure(settings.log_level, settings.log_format)
    return settings


def _run(
    work: Callable[[Services], Awaitable[T]],
    settings: Settings | None = None,
    *,
    creates: bool = False,
) -> T:
    """Build the services, run one piece of async work, always close them.

    Only `creates` work (migrate) may make a new SQLite file: anything else run where the
    database isn't (relative paths are from the current directory) says so, instead of
    leaving an empty file behind and failing on a missing table.
    """
    settings = settings or _settings()
    place = _database_at(settings, creates=creates)

    async def main() -> T:
        services = build_services(settings)
        try:
            return await work(services)
        finally:
            await services.aclose()

    try:
        return runtime.run(main())
    except CannotStart as exc:
        _refuse(str(exc))
        raise  # unreachable: _refuse exits
    except (OperationalError, ProgrammingError, DBAPIError, OSError) as exc:
        err.print(f"[red]Database problem:[/] {_short(exc)}")
        err.print(f"Is DATABASE_URL right ({place}), and has `juneplum migrate` been run?")
        raise typer.Exit(1) from None


def _database_at(settings: Settings, *, creates: bool = False) -> str:
    """Where DATABASE_URL points, said plainly; refuses (exit 2) when it is a SQLite file
    that isn't there, unless the command `creates` it."""
    place, missing = _database_place(settings.database_url)
    if missing and not creates:
        _refuse(
            f"No database at {place}. Run `juneplum migrate` first, or run juneplum from the "
            "directory that has it (DATABASE_URL's relative paths start from the current "
            "directory; an absolute one works from anywhere)."
        )
    return place


def _database_place(url: str) -> tuple[str, bool]:
    """A SQLite file's absolute path, or a server's URL without its password; and whether
    it is a SQLite file that isn't there. Anything odder is left to SQLite to report."""
    try:
        target = driver_url(url)
    except ValueError:  # said better when the database is opened
        return "?", False
    if target.get_backend_name() != "sqlite":
        return target.render_as_string(hide_password=True), False
    path = Path(target.database or "")
    try:
        return str(path.resolve()), not path.exists()
    except (OSError, RuntimeError):  # a name too long, a directory we can't read
        return str(path), False


def _short(exc: Exception) -> str:
    text = str(getattr(exc, "orig", exc) or exc).splitlines()[0]
    return re.sub(r"://[^@/]*@", "://***@", text)  # never print a password from a URL


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""

    from storage import migrate as migrations  # alembic is only needed here

    async def work(services: Services) -> None:
        await migrations.upgrade(services.db)

    _run(work, creates=True)
    err.print("Database is up to date.")


@business_app.command("add")
def business_add(
    name: Annotated[str, typer.Option(help="The business's name, as customers see it.")],
    timezone: Annotated[str, typer.Option(help="IANA time zone, e.g. Europe/Paris.")],
    owner_email: Annotated[str, typer.Option(help="Where owner emails go.")],
    currency: Annotated[str, typer.Option(help="ISO 4217 code.")] = "USD",
    gct_rate: Annotated[str | None, _GCT_RATE] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    inkress_secret: Annotated[str | None, INKRESS_SECRET] = None,
) -> None:
    """Add a business and print its id and API key (shown once)."""
    if inkress_secret is not None:
        inkress_secret = _inkress_secret(inkress_secret)
    rate = _gct_rate(gct_rate) if gct_rate is not None else None
    name = name.strip()
    if not name or len(name) > 200:
        _refuse("The name must be 1 to 200 characters.")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        _refuse(f"Unknown time zone “{timezone}”. Use an IANA name such as Europe/Paris.")
    from bot.currencies import is_currency  # CLDR's data only when a business is added

    if not is_currency(currency):
        _refuse(
            f"“{currency}” isn't a currency in use: give its ISO 4217 code, e.g. USD, EUR, JMD."
        )
    try:
        owner_email = validate_email(owner_email, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        _refuse(f"Owner email: {exc}")
    api_key = new_api_key()

    async def work(services: Services) -> Business:
        return await services.businesses.add(
            name=name,
            timezone=timezone,
            owner_email=owner_email,
            currency=currency.upper(),
            api_key=api_key,
            at=services.clock.now(),
            inkress_secret=inkress_secret,
            gct_rate=rate,
        )

    business = _run(work)
    if as_json:
        out = {"id": business.id, "name": business.name, "timezone": business.timezone}
        print(json.dumps(out | {"currency": business.currency, "api_key": api_key}))
        return
    print(f"Business {business.id} “{business.name}” added ({business.timezone}).")
    print(f"API key (shown once, keep it secret): {api_key}")


_GCT_RATE = typer.Option(
    "--gct-rate",
    help="GCT in percent (15 is Jamaica's standard rate; 0 for none), included in the prices paid.",
)


def _gct_rate(text: str) -> Decimal:
    try:
        return gct.parse_rate(text)
    except ValueError as exc:
        _refuse(str(exc))
        raise  # unreachable: _refuse exits


@business_app.command("list")
def business_list() -> None:
    """List businesses."""

    async def work(services: Services) -> list[Business]:
        return await services.businesses.all()

    found = _run(work)
    if not found:
        print("No businesses yet: run `juneplum demo` or `juneplum business add`.")
    for b in found:
        print(f"{b.id}\t{b.name}\t{b.timezone}\t{b.currency}\t{b.owner_email}")


INKRESS_SECRET = typer.Option(
    help="The secret Inkress signs this business's webhooks with (its webhook settings); "
    "webhooks go to /webhooks/inkress/<business id>."
)


def _inkress_secret(secret: str) -> str:
    secret = secret.strip()
    if not 8 <= len(secret) <= 200 or not secret.isprintable():
        _refuse("The Inkress secret must be 8 to 200 printable characters.")
    return secret


@business_app.command("update")
def business_update(
    business_id: Annotated[int, typer.Argument(help="The business, from `business list`.")],
    gct_rate: Annotated[str | None, _GCT_RATE] = None,
    inkress_secret: Annotated[str | None, INKRESS_SECRET] = None,
) -> None:
    """Change a business's settings: its GCT rate, its Inkress webhook secret."""
    if gct_rate is None and inkress_secret is None:
        _refuse("Say what to change: --gct-rate PERCENT and/or --inkress-secret S.")
    rate = _gct_rate(gct_rate) if gct_rate is not None else None
    secret = _inkress_secret(inkress_secret) if inkress_secret is not None else None

    async def work(services: Services) -> Business | None:
        return await services.businesses.update(business_id, gct_rate=rate, inkress_secret=secret)

    business = _run(work)
    if business is None:
        _refuse(f"There is no business {business_id}. See `juneplum business list`.")
        return
    if rate is not None:
        charged = f"GCT {gct.percent(rate)}, included in prices" if gct.enabled(rate) else "no GCT"
        print(f"Business {business.id} “{business.name}”: {charged}.")
    if secret is not None:
        print(f"Business {business.id}: Inkress secret set (never shown again).")


@business_app.command("calendar-url")
def business_calendar_url(
    business_id: Annotated[int, typer.Argument(help="The business, from `business list`.")],
    rotate: Annotated[
        bool, typer.Option("--rotate", help="Make a new URL; the old one stops working.")
    ] = False,
    contacts: Annotated[
        bool | None,
        typer.Option(
            "--with-contacts/--without-contacts",
            help="Show customers' email and phone in the feed, or not (off at first).",
        ),
    ] = None,
) -> None:
    """Print the business's secret calendar subscription URL, for the owner's phone.

    The URL is shown once: only a digest of its token is stored. Run again with --rotate for
    a new one (the old URL then answers 404).
    """
    settings = _settings()

    async def work(services: Services) -> tuple[str | None, bool] | None:
        try:
            await services.desk.business(business_id)
        except BusinessNotFound:
            return None
        feeds = services.calendar.feeds
        issued = await feeds.issued(business_id)
        token = None
        if rotate or not issued:
            token = calendar_feed.new_token()
            await feeds.issue(business_id, calendar_feed.token_digest(token), services.clock.now())
        if contacts is not None:
            await feeds.set_contacts(business_id, contacts)
        return token, issued

    done = _run(work, settings)
    if done is None:
        _refuse(f"There is no business {business_id}. See `juneplum business list`.")
        return
    token, was_issued = done
    if contacts is not None:
        shown = "shows" if contacts else "no longer shows"
        print(f"The feed {shown} customers' email and phone.")
    if token is None:
        if contacts is None:
            print(
                f"Business {business_id} already has a calendar URL. It is stored only as a "
                "digest, so it can't be shown again: run with --rotate for a new one (the old "
                "one then stops working)."
            )
        return
    base = settings.public_url or f"http://{settings.http_host}:{settings.http_port}"
    if was_issued:
        print("A new calendar URL; the old one no longer works.")
    print(calendar_feed.feed_url(base, token))
    if settings.public_url is None:
        print("Set PUBLIC_URL to the address phones reach this server at; this one is local.")
    print("Subscribe to it in the phone's calendar (add a calendar by URL). Keep it secret.")


@business_app.command("link-code")
def business_link_code(
    business_id: Annotated[int, typer.Argument(help="The business, from `business list`.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Print a one-time code that links a Slack channel or Telegram chat to a business."""

    async def work(services: Services) -> str | None:
        try:
            return await services.chat.issue_link_code(business_id)
        except BusinessNotFound:
            return None

    code = _run(work)
    if code is None:
        _refuse(f"There is no business {business_id}. See `juneplum business list`.")
        return
    if as_json:
        print(json.dumps({"link_code": code}))
        return
    hours = int(LINK_CODE_TTL.total_seconds() // 3600)
    print(f"Link code (one use, valid for {hours} hours): {code}")
    print(f"  Slack:    /bookings connect {code}")
    print(f"  Telegram: /start {code}")


@outbox_app.callback(invoke_without_command=True)
def outbox_list(
    ctx: typer.Context,
    show_sent: Annotated[bool, typer.Option("--sent", help="Include sent mail.")] = False,
) -> None:
    """List mail and chat deliveries that are pending or failed: id, kind, recipient, status,
    attempts, last error."""
    if ctx.invoked_subcommand is not None:
        return
    wanted = [DeliveryStatus.PENDING, DeliveryStatus.FAILED]
    if show_sent:
        wanted.append(DeliveryStatus.SENT)

    async def work(services: Services) -> list[QueuedMail | QueuedChat]:
        return await services.outbox.listing(wanted)

    found = _run(work)
    if not found:
        print("Nothing pending or failed.")
        return
    print("id\tkind\trecipient\tstatus\tattempts\tlast error")
    for m in found:
        error = (m.last_error or "").replace("\t", " ")
        print(f"{m.id}\t{m.kind.value}\t{m.recipient}\t{m.status.value}\t{m.attempts}\t{error}")


@outbox_app.command("retry")
def outbox_retry(
    mail_id: Annotated[int, typer.Argument(help="The id from `juneplum outbox`.")],
) -> None:
    """Send a failed email or chat delivery again (a running `serve` picks it up)."""

    async def work(services: Services) -> bool:
        return await services.outbox.retry(mail_id, services.clock.now())

    if not _run(work):
        _refuse(f"No failed delivery {mail_id}. See `juneplum outbox`.")
    print(f"Delivery {mail_id} queued again.")


@app.command()
def backup(
    path: Annotated[Path, typer.Argument(help="The new file to write; never overwritten.")],
) -> None:
    """Write a consistent copy of the SQLite database, while the service runs."""
    from storage.backup import BackupExists, backup_sqlite

    settings = _settings()
    target = driver_url(settings.database_url)
    if target.get_backend_name() != "sqlite":
        url = target.set(drivername="postgresql").render_as_string(hide_password=True)
        _refuse(
            "The database is on PostgreSQL: back it up with PostgreSQL's own tool, while the "
            f"service runs, e.g.\n  pg_dump --format=custom --file={path} '{url}'\n"
            "and restore with pg_restore (see the README)."
        )
    place = Path(_database_at(settings))
    if path.exists():
        _refuse(f"{path} is there already; a backup never overwrites. Choose a new name.")
    if not path.parent.is_dir():
        _refuse(f"No directory {path.parent} to write {path.name} in.")
    try:
        size = backup_sqlite(place, path)
    except BackupExists:
        _refuse(f"{path} is there already; a backup never overwrites. Choose a new name.")
    except (OSError, sqlite3.Error) as exc:
        err.print(f"[red]Backup failed:[/] {_short(exc)}; nothing was written at {path}.")
        raise typer.Exit(1) from None
    err.print(f"Backed up {place} to {path} ({size:,} bytes).")


MAIL_WAIT_LIMIT = timedelta(seconds=60)  # the dispatcher polls every few seconds
REMINDER_WAIT_LIMIT = timedelta(seconds=90)  # the sweep runs every 30 s at most


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Is the desk ready: database and schema, mail waiting or failed, jobs keeping up.

    Exits 1 when something needs an operator.
    """
    from bot.readiness import readiness  # alembic only when asked

    report = _run(lambda services: readiness(services, MAIL_WAIT_LIMIT, REMINDER_WAIT_LIMIT))
    if as_json:
        print(json.dumps(report.as_dict()))
    else:
        for name, line in report.lines():
            print(f"{name:<11} {line}")
    if not report.ready:
        raise typer.Exit(1)


@app.command()
def demo() -> None:
    """Seed the demo business once; a second run changes nothing."""

    async def work(services: Services) -> tuple[Business | None, str | None]:
        return await seed_demo(services)

    business, api_key = _run(work)
    if business is None:
        err.print("The demo business is already there; nothing changed.")
        return
    err.print(f"Demo business {business.id} “{business.name}” seeded.")
    err.print(f"Its API key (shown once): {api_key}")


@app.command()
def console(
    business: Annotated[
        int | None, typer.Option(help="Business id (default: the only one).")
    ] = None,
) -> None:
    """Chat with the booking desk in this terminal; new bookings arrive as alerts."""

    async def work(services: Services) -> None:
        chat = await open_console(
            services.chat, services.feed, await services.businesses.all(), business, Console()
        )
        await chat.run(stdin_lines())

    _run(work)


@app.command()
def serve(
    attach_console: Annotated[
        bool, typer.Option("--console", help="Attach the terminal console (reads stdin).")
    ] = False,
    business: Annotated[int | None, typer.Option(help="Business for the console.")] = None,
    console_without_chat: Annotated[
        bool,
        typer.Option(
            "--console-without-chat",
            help="Attach the console only when no chat platform (Slack, Telegram) is set up.",
        ),
    ] = False,
) -> None:
    """Run the HTTP API and everything configured."""
    from bot.server import serve as run_server  # uvicorn and FastAPI only when serving

    settings = _settings()
    if console_without_chat and not settings.chat_configured:
        attach_console = True
    _database_at(settings)  # before anything is written, such as the log file
    if attach_console:
        # The terminal belongs to the console: logs go to a file instead of over the prompt.
        log_file = settings.log_file or Path("var/juneplum.log")
        log_file.parent.mkdir(parents=True, exist_ok=True)
        logs.configure(
            settings.log_level, settings.log_format, log_file.open("a", encoding="utf-8")
        )
        where = settings.smtp_host or f"files in {settings.mail_dir}/"
        err.print(f"Logs go to {log_file}; mail goes to {where}.")

    _run(
        lambda services: run_server(services, attach_console=attach_console, business=business),
        settings,
    )


def _refuse(message: str) -> None:
    err.print(Text(message, style="red"))
    raise typer.Exit(2)


@export_app.command("bookings")
def export_bookings(
    first: Annotated[str, typer.Option("--from", help="First appointment date, 2026-01-01.")],
    last: Annotated[str, typer.Option("--to", help="Last appointment date (included).")],
    business_id: Annotated[
        int | None, typer.Option("--business", help="One business (default: all).")
    ] = None,
    form: Annotated[str, typer.Option("--format", help="csv (the only format).")] = "csv",
) -> None:
    """Write CSV to standard output: a row per booking whose appointment falls in the dates,
    each in its business's time zone; money as plain decimals."""
    from bot.export import write_csv

    if form.lower() != "csv":
        _refuse(f"“{form}” isn't a format I write; use --format csv.")
    try:
        span = periods.DaySpan(read_date(first), read_date(last), "")
    except CommandError as exc:
        _refuse(str(exc))
        raise  # unreachable: _refuse exits
    if span.last < span.first:
        _refuse(f"--to {last} is before --from {first}.")

    async def each(services: Services) -> AsyncIterator[tuple[Business, Booking]]:
        for business in await services.businesses.all():
            if business_id is not None and business.id != business_id:
                continue
            start, end = span.utc_bounds(business.zone)
            async for booking in services.store.bookings_between(business.id, start, end):
                yield business, booking

    async def work(services: Services) -> int:
        if business_id is not None and await services.store.get_business(business_id) is None:
            _refuse(f"There is no business {business_id}; see `juneplum business list`.")
        return await write_csv(sys.stdout, each(services))

    _run(work)
    sys.stdout.flush()


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
