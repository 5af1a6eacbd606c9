"""Runs say which process runs them and when it last said so: a run still going is not resumed by another.

Revision ID: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    op.add_column("runs", sa.Column("runner", sa.Text()))
    op.add_column("runs", sa.Column("alive_at", sa.Text()))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:  # (SQLite before 3.35 drops no column in place)
        for column in ("alive_at", "runner"):
            batch.drop_column(column)
