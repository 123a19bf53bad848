"""mobile payments

Payment channels, requests (at most one live per order, by a partial unique
index), their operations and events, send-form drafts and the message outbox.
A fresh database gets one channel, "M-Pay" (Resurs: payment link by SMS),
which the sandbox serves until real credentials are configured.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 03:40:36.002100
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel
import verkstad.db


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('payment_channels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('provider', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('transaction_types', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('sms_enabled', sa.Boolean(), nullable=False),
    sa.Column('email_enabled', sa.Boolean(), nullable=False),
    sa.Column('link_lifetime_minutes', sa.Integer(), nullable=False),
    sa.Column('users', sa.Text(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('payment_drafts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_name', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('fields', sa.Text(), nullable=False),
    sa.Column('saved_at', verkstad.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('payment_drafts', schema=None) as batch_op:
        batch_op.create_index('ux_draft_user_key', ['user_name', 'key'], unique=True)

    op.create_table('payment_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('idempotency_key', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('channel_id', sa.Integer(), nullable=False),
    sa.Column('provider', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('provider_ref', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('amount_minor', sa.Integer(), nullable=False),
    sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
    sa.Column('captured_minor', sa.Integer(), nullable=False),
    sa.Column('refunded_minor', sa.Integer(), nullable=False),
    sa.Column('phone', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('send_sms', sa.Boolean(), nullable=False),
    sa.Column('send_email', sa.Boolean(), nullable=False),
    sa.Column('explanation', sa.Text(), nullable=False),
    sa.Column('link', sa.Text(), nullable=True),
    sa.Column('method', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=True),
    sa.Column('failure_reason', sa.Text(), nullable=True),
    sa.Column('failed_attempts', sa.Integer(), nullable=False),
    sa.Column('expires_at', verkstad.db.UTCDateTime(), nullable=True),
    sa.Column('sent_at', verkstad.db.UTCDateTime(), nullable=True),
    sa.Column('reserved_at', verkstad.db.UTCDateTime(), nullable=True),
    sa.Column('paid_at', verkstad.db.UTCDateTime(), nullable=True),
    sa.Column('ended_at', verkstad.db.UTCDateTime(), nullable=True),
    sa.Column('read_at', verkstad.db.UTCDateTime(), nullable=True),
    sa.Column('consolidated_at', verkstad.db.UTCDateTime(), nullable=True),
    sa.Column('consolidated_by', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('created_at', verkstad.db.UTCDateTime(), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('updated_at', verkstad.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['payment_channels.id'], ),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key'),
    sa.UniqueConstraint('reference')
    )
    with op.batch_alter_table('payment_requests', schema=None) as batch_op:
        batch_op.create_index('ix_payment_created', ['created_at', 'id'], unique=False)
        batch_op.create_index('ix_payment_creator', ['created_by', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_requests_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_requests_provider_ref'), ['provider_ref'], unique=False)
        batch_op.create_index('ix_payment_state', ['state', 'id'], unique=False)
        batch_op.create_index('ux_payment_live_per_order', ['order_id'], unique=True, sqlite_where=sa.text("state IN ('CREATING', 'IN_PROGRESS', 'OPENED', 'RESERVED', 'SENT')"), postgresql_where=sa.text("state IN ('CREATING', 'IN_PROGRESS', 'OPENED', 'RESERVED', 'SENT')"))

    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
    sa.Column('recipient', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('dedupe_key', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', verkstad.db.UTCDateTime(), nullable=False),
    sa.Column('sent_at', verkstad.db.UTCDateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('payment_request_id', sa.Integer(), nullable=True),
    sa.Column('created_at', verkstad.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['payment_request_id'], ['payment_requests.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dedupe_key')
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_due', ['state', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_payment_request_id'), ['payment_request_id'], unique=False)

    op.create_table('payment_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('at', verkstad.db.UTCDateTime(), nullable=False),
    sa.Column('user_name', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('raw', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['request_id'], ['payment_requests.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('payment_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_events_request_id'), ['request_id'], unique=False)

    op.create_table('payment_operations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('idempotency_key', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('amount_minor', sa.Integer(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', verkstad.db.UTCDateTime(), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('done_at', verkstad.db.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['request_id'], ['payment_requests.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key')
    )
    with op.batch_alter_table('payment_operations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_operations_request_id'), ['request_id'], unique=False)



    channels = sa.table(
        "payment_channels",
        *(sa.column(c) for c in (
            "name", "provider", "transaction_types", "sms_enabled", "email_enabled",
            "link_lifetime_minutes", "users", "active",
        )),
    )
    op.bulk_insert(channels, [{
        "name": "M-Pay", "provider": "resurs", "transaction_types": "receive,refund",
        "sms_enabled": True, "email_enabled": False, "link_lifetime_minutes": 1440,
        "users": "", "active": True,
    }])


def downgrade() -> None:
    with op.batch_alter_table('payment_operations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_operations_request_id'))

    op.drop_table('payment_operations')
    with op.batch_alter_table('payment_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_events_request_id'))

    op.drop_table('payment_events')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_payment_request_id'))
        batch_op.drop_index('ix_outbox_due')

    op.drop_table('outbox')
    with op.batch_alter_table('payment_requests', schema=None) as batch_op:
        batch_op.drop_index('ux_payment_live_per_order', sqlite_where=sa.text("state IN ('CREATING', 'IN_PROGRESS', 'OPENED', 'RESERVED', 'SENT')"), postgresql_where=sa.text("state IN ('CREATING', 'IN_PROGRESS', 'OPENED', 'RESERVED', 'SENT')"))
        batch_op.drop_index('ix_payment_state')
        batch_op.drop_index(batch_op.f('ix_payment_requests_provider_ref'))
        batch_op.drop_index(batch_op.f('ix_payment_requests_customer_id'))
        batch_op.drop_index('ix_payment_creator')
        batch_op.drop_index('ix_payment_created')

    op.drop_table('payment_requests')
    with op.batch_alter_table('payment_drafts', schema=None) as batch_op:
        batch_op.drop_index('ux_draft_user_key')

    op.drop_table('payment_drafts')
    op.drop_table('payment_channels')
