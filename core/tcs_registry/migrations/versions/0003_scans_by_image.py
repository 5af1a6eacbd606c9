"""Each image platform's scans in order: what `results --changes` compares an image with is its latest
scan before this one, found through this index instead of every scan of the project.

Revision ID: 0003
"""

from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_index("scans_by_image", "scans", ["project", "registry", "repository", "tag", "platform", "run"])


def downgrade() -> None:
    op.drop_index("scans_by_image", "scans")
