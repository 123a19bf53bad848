"""books

Verifications and their rows (a gapless series of its own), settings of the
books (accounts per role; BAS defaults live in the code), credit notes with
their lines, and settlement imports with the payments they booked (a unique
key so a report imported twice books nothing twice).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 03:49:32.877166
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel
import verkstad.db


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('book_settings',
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('value', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('updated_at', verkstad.db.UTCDateTime(), nullable=False),
    sa.Column('updated_by', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('settlement_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('file_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('booked', sa.Integer(), nullable=False),
    sa.Column('skipped', sa.Integer(), nullable=False),
    sa.Column('imported_at', verkstad.db.UTCDateTime(), nullable=False),
    sa.Column('imported_by', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('settlement_imports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_settlement_imports_sha256'), ['sha256'], unique=False)

    op.create_table('verifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('booked_on', sa.Date(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('document_number', sa.Integer(), nullable=True),
    sa.Column('created_at', verkstad.db.UTCDateTime(), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number')
    )
    with op.batch_alter_table('verifications', schema=None) as batch_op:
        batch_op.create_index('ix_verifications_booked', ['booked_on', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_verifications_order_id'), ['order_id'], unique=False)

    op.create_table('credit_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('original_invoice_number', sa.Integer(), nullable=False),
    sa.Column('verification_id', sa.Integer(), nullable=False),
    sa.Column('total_minor', sa.Integer(), nullable=False),
    sa.Column('refund_minor', sa.Integer(), nullable=False),
    sa.Column('payment_request_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', verkstad.db.UTCDateTime(), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], ),
    sa.ForeignKeyConstraint(['payment_request_id'], ['payment_requests.id'], ),
    sa.ForeignKeyConstraint(['verification_id'], ['verifications.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number')
    )
    with op.batch_alter_table('credit_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credit_notes_order_id'), ['order_id'], unique=False)

    op.create_table('settled_payments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('import_id', sa.Integer(), nullable=False),
    sa.Column('verification_id', sa.Integer(), nullable=False),
    sa.Column('payment_request_id', sa.Integer(), nullable=False),
    sa.Column('provider', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('payout_id', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('line_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('reference', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('gross_minor', sa.Integer(), nullable=False),
    sa.Column('fee_minor', sa.Integer(), nullable=False),
    sa.Column('fee_vat_minor', sa.Integer(), nullable=False),
    sa.Column('net_minor', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['import_id'], ['settlement_imports.id'], ),
    sa.ForeignKeyConstraint(['payment_request_id'], ['payment_requests.id'], ),
    sa.ForeignKeyConstraint(['verification_id'], ['verifications.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('provider', 'payout_id', 'line_key', name='ux_settled_once')
    )
    with op.batch_alter_table('settled_payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_settled_payments_import_id'), ['import_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_settled_payments_payment_request_id'), ['payment_request_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_settled_payments_verification_id'), ['verification_id'], unique=False)

    op.create_table('verification_rows',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('verification_id', sa.Integer(), nullable=False),
    sa.Column('account', sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
    sa.Column('amount_minor', sa.Integer(), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('vat_rate', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['verification_id'], ['verifications.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('verification_rows', schema=None) as batch_op:
        batch_op.create_index('ix_verification_rows_account', ['account', 'verification_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_verification_rows_verification_id'), ['verification_id'], unique=False)

    op.create_table('credit_note_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('credit_note_id', sa.Integer(), nullable=False),
    sa.Column('order_line_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('article_number', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('description', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('quantity_milli', sa.Integer(), nullable=False),
    sa.Column('unit', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('unit_price_minor', sa.Integer(), nullable=False),
    sa.Column('discount_bp', sa.Integer(), nullable=False),
    sa.Column('vat_rate', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['credit_note_id'], ['credit_notes.id'], ),
    sa.ForeignKeyConstraint(['order_line_id'], ['order_lines.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('credit_note_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credit_note_lines_credit_note_id'), ['credit_note_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_credit_note_lines_order_line_id'), ['order_line_id'], unique=False)

    series = sa.table("series", sa.column("name", sa.String), sa.column("next_value", sa.Integer))
    op.bulk_insert(series, [{"name": "verification", "next_value": 1}])


def downgrade() -> None:
    with op.batch_alter_table('credit_note_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credit_note_lines_order_line_id'))
        batch_op.drop_index(batch_op.f('ix_credit_note_lines_credit_note_id'))

    op.drop_table('credit_note_lines')
    with op.batch_alter_table('verification_rows', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_verification_rows_verification_id'))
        batch_op.drop_index('ix_verification_rows_account')

    op.drop_table('verification_rows')
    with op.batch_alter_table('settled_payments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_settled_payments_verification_id'))
        batch_op.drop_index(batch_op.f('ix_settled_payments_payment_request_id'))
        batch_op.drop_index(batch_op.f('ix_settled_payments_import_id'))

    op.drop_table('settled_payments')
    with op.batch_alter_table('credit_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credit_notes_order_id'))

    op.drop_table('credit_notes')
    with op.batch_alter_table('verifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_verifications_order_id'))
        batch_op.drop_index('ix_verifications_booked')

    op.drop_table('verifications')
    with op.batch_alter_table('settlement_imports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_settlement_imports_sha256'))

    op.drop_table('settlement_imports')
    op.drop_table('book_settings')
    op.execute("DELETE FROM series WHERE name = 'verification'")
