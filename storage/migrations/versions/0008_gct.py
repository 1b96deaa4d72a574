"""A business's GCT rate (percent, exact as text like every amount; empty: no GCT).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import Money

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("businesses", sa.Column("gct_rate", Money))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+): a batch rebuild of businesses would break the
    # foreign keys of every table that points at it.
    op.execute("ALTER TABLE businesses DROP COLUMN gct_rate")
