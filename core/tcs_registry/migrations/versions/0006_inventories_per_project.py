"""An image's inventory is kept per project: a document one project recorded (or a console was sent) is
never shown to another, nor stands in for another's. The inventories recorded so far are copied to each
project whose scans name them.

Revision ID: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.create_table(
        "project_inventories",
        sa.Column("project", sa.Text(), primary_key=True),
        sa.Column("digest", sa.Text(), primary_key=True),
        sa.Column("analyser", sa.Text(), primary_key=True),
        sa.Column("inventory", sa.Text(), nullable=False),
    )
    op.execute(
        "INSERT INTO project_inventories (project, digest, analyser, inventory) "
        "SELECT DISTINCT s.project, i.digest, i.analyser, i.inventory FROM inventories i "
        "JOIN scans s ON s.digest = i.digest AND s.analyser = i.analyser"
    )
    op.drop_table("inventories")
    op.rename_table("project_inventories", "inventories")


def downgrade() -> None:
    op.create_table(
        "shared_inventories",
        sa.Column("digest", sa.Text(), primary_key=True),
        sa.Column("analyser", sa.Text(), primary_key=True),
        sa.Column("inventory", sa.Text(), nullable=False),
    )
    op.execute(
        "INSERT INTO shared_inventories (digest, analyser, inventory) "
        "SELECT digest, analyser, MIN(inventory) FROM inventories GROUP BY digest, analyser"
    )
    op.drop_table("inventories")
    op.rename_table("shared_inventories", "inventories")
