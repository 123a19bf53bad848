"""extra cost rules

Fees an administrator sets per product category (environmental fee, delivery),
added to an order once, when it is first marked complete; the order remembers
that they were added so a fee staff removed does not come back.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 09:30:00
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel
import verkstad.db


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('extra_cost_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('description', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('article_number', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('unit_price_minor', sa.Integer(), nullable=False),
    sa.Column('vat_rate', sa.Integer(), nullable=False),
    sa.Column('created_at', verkstad.db.UTCDateTime(), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    # A plain ADD COLUMN (not batch mode): SQLite adds a column with a constant default
    # without rebuilding the table, which on a million orders takes minutes.
    op.add_column('orders', sa.Column('extra_costs_applied', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('extra_costs_applied')

    op.drop_table('extra_cost_rules')
