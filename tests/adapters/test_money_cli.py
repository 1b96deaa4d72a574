"""The owner's money from the command line: a business's GCT rate, and the accountant's CSV."""

from __future__ import annotations

import json
from pathlib import Path

from tests.adapters.test_cli import env, run

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
