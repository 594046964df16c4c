"""The receipts table: the stored reply of each write, for a re-sent request.

Revision 0002, after 0001. See repository/receipts.py.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "receipts"


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table(TABLE):
        return  # made at start-up by a version before migrations: taken as it is
    op.create_table(
        TABLE,
        sa.Column("subject", sa.String(255), primary_key=True),
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("reply", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(op.f("ix_receipts_created_at"), TABLE, ["created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_receipts_created_at"), table_name=TABLE)
    op.drop_table(TABLE)
