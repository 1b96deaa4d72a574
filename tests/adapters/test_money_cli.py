"""The owner's money from the command line: a business's GCT rate, and the accountant's CSV."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from bot.app import Services
from core.model import Business
from tests.adapters.test_cli import env, run
from tests.conftest import PAGE, new_booking
from tests.integration.test_revenue import NEW_YORK, OUTSIDE, PLAN, make, spa

MONEY = ("currency", "amount", "tax", "refund_state", "refund_amount")

__all__ = ["env"]  # the fixture, shared with the other CLI tests


def test_a_business_charges_gct_from_its_add_or_update_and_refuses_a_bad_rate(
    env: dict[str, str], tmp_path: Path
) -> None:
    assert run(env, tmp_path, "migrate").returncode == 0
    added = run(
        env, tmp_path, "business", "add", "--name", "Blue Mountain Spa", "--timezone",
        "America/Jamaica", "--owner-email", "o@spa.example", "--currency", "JMD",
        "--gct-rate", "15", "--json",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    business_id = str(json.loads(added.stdout)["id"])
    updated = run(env, tmp_path, "business", "update", business_id, "--gct-rate", "16.5")
    assert updated.returncode == 0, updated.stderr
    assert updated.stdout == "Business 1 “Blue Mountain Spa”: GCT 16.5%, included in prices.\n"
    off = run(env, tmp_path, "business", "update", business_id, "--gct-rate", "0")
    assert off.stdout == "Business 1 “Blue Mountain Spa”: no GCT.\n"
    for bad in ("fifteen", "-3", "100"):
        refused = run(env, tmp_path, "business", "update", business_id, "--gct-rate", bad)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr
        assert "GCT rate" in refused.stderr or "percentage" in refused.stderr
    missing = run(env, tmp_path, "business", "update", "99", "--gct-rate", "15")
    assert missing.returncode == 2 and "There is no business 99" in missing.stderr


def export(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run(env, cwd, "export", "bookings", *args)


async def test_the_export_writes_a_row_per_booking_in_each_business_s_own_days(
    services: Services, business: Business, database_url: str, env: dict[str, str], tmp_path: Path
) -> None:
    shop = await spa(services)  # Kingston, JMD, GCT 15%
    await make(services, shop, PLAN + OUTSIDE)
    # New York's 1 December starts at 05:00 UTC, Kingston's too (no DST there); New York's
    # 31 December ends at 05:00 UTC on 1 January.
    ny = [
        datetime(2026, 12, 1, 0, 30, tzinfo=NEW_YORK),
        datetime(2026, 11, 30, 23, 30, tzinfo=NEW_YORK),  # November there: not exported
    ]
    for n, start in enumerate(ny):
        await services.desk.intake(business, new_booking(start=start, txn=f"NY{n}"), PAGE)
    env = env | {"DATABASE_URL": database_url}

    done = export(env, tmp_path, "--from", "2026-12-01", "--to", "2026-12-31", "--format", "csv")

    assert done.returncode == 0, done.stderr
    table = list(csv.DictReader(io.StringIO(done.stdout)))
    assert set(MONEY) <= set(table[0])
    by_txn = {r["transaction_id"]: r for r in table}
    assert sorted(by_txn) == sorted([f"T{n}" for n in range(len(PLAN))] + ["NY0"])
    for n, (made, start) in enumerate(PLAN):
        r = by_txn[f"T{n}"]
        owed = made.outcome == "cancelled"
        refunded = made.outcome == "refunded"
        tax = (made.amount * 15 / 115).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        assert [r[c] for c in MONEY] == [
            made.currency,
            f"{made.amount:.2f}",
            f"{tax:.2f}",
            "owed" if owed else "issued" if refunded else "none",
            f"{made.amount:.2f}" if owed or refunded else "0.00",
        ], r
        assert r["business"] == "Blue Mountain Spa" and r["start_local"] == start.isoformat(
            timespec="minutes"
        )
        assert r["payment_provider"] == ("inkress" if made.currency == "JMD" else "paypal")
    assert by_txn["NY0"]["start_local"] == "2026-12-01T00:30-05:00"
    assert [by_txn["NY0"][c] for c in MONEY] == ["USD", "45.00", "0.00", "none", "0.00"]

    one = export(env, tmp_path, "--from", "2026-12-01", "--to", "2026-12-01", "--business", "1")
    assert [r["transaction_id"] for r in csv.DictReader(io.StringIO(one.stdout))] == ["NY0"]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--from", "2026-02-30", "--to", "2026-03-01"), "isn't a date on the calendar"),
        (("--from", "yesterday", "--to", "2026-03-01"), "isn't a date"),
        (("--from", "2026-03-02", "--to", "2026-03-01"), "is before --from"),
        (("--from", "2026-03-01", "--to", "2026-03-01", "--format", "xlsx"), "--format csv"),
        (("--from", "2026-03-01", "--to", "2026-03-01", "--business", "9"), "no business 9"),
    ],
)
def test_a_bad_export_request_is_refused_plainly_with_exit_code_2(
    env: dict[str, str], tmp_path: Path, args: tuple[str, ...], said: str
) -> None:
    assert run(env, tmp_path, "migrate").returncode == 0
    refused = export(env, tmp_path, *args)
    assert refused.returncode == 2 and said in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr and refused.stdout == ""
