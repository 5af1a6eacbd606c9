"""Each failure keeps its code (``auth``, ``not-found``, ``timeout``...) beside its reason: the summary
counts failures by code, and the coverage gate and reports name them. Failures recorded before have
the code ``error``.

Revision ID: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    with op.batch_alter_table("failures") as table:
        table.add_column(sa.Column("code", sa.Text(), nullable=False, server_default="error"))


def downgrade() -> None:
    with op.batch_alter_table("failures") as table:
        table.drop_column("code")
