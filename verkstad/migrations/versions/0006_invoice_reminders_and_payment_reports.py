"""invoice reminders and payment reports

The reminders sent for unpaid invoices (a unique key per invoice and level,
so no level is sent twice) and the payment reports the scheduler has written
(a unique key per period, so each is written once).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 04:43:53.627526
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel
import verkstad.db


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('payment_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period', sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('file_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('emailed_to', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('written_at', verkstad.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('period', 'starts_on', name='ux_payment_report_once')
    )
    op.create_table('invoice_reminders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('invoice_number', sa.Integer(), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('dedupe_key', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('amount_minor', sa.Integer(), nullable=False),
    sa.Column('fee_minor', sa.Integer(), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
    sa.Column('sent_at', verkstad.db.UTCDateTime(), nullable=False),
    sa.Column('sent_by', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dedupe_key')
    )
    with op.batch_alter_table('invoice_reminders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoice_reminders_order_id'), ['order_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('invoice_reminders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoice_reminders_order_id'))

    op.drop_table('invoice_reminders')
    op.drop_table('payment_reports')
