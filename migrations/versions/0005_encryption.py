"""data minimisation: encrypted cases.identifying_details, cases.anonymised, users.totp_secret encrypted

Revision ID: 0005_encryption
Revises: 0004_security
Create Date: 2026-11-29 03:33:00.408178

"""
from alembic import op
import sqlalchemy as sa
from cryptography.fernet import InvalidToken

from database import keyring


# revision identifiers, used by Alembic.
revision = '0005_encryption'
down_revision = '0004_security'
branch_labels = None
depends_on = None

# Plain text columns as the migration sees them: the values are encrypted and decrypted here with
# the keyring create_app bound (SAFEHAVEN_ENCRYPTION_KEYS, else instance/encryption_key), as the app does.
users = sa.table('users', sa.column('id', sa.Integer()), sa.column('totp_secret', sa.Text()))


def _is_token(value):
    try:
        keyring.decrypt(value)
    except InvalidToken:
        return False
    return True


def upgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('identifying_details', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('anonymised', sa.Boolean(), server_default=sa.false(), nullable=False))

    # A Fernet token of a 32-character secret is about 140 characters: widen the column first.
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('totp_secret',
               existing_type=sa.VARCHAR(length=64),
               type_=sa.Text(),
               existing_nullable=True)

    conn = op.get_bind()
    rows = conn.execute(sa.select(users.c.id, users.c.totp_secret).where(users.c.totp_secret.is_not(None))).all()
    for user_id, secret in rows:
        if not _is_token(secret):  # a rerun after a failure part-way leaves the encrypted ones alone
            conn.execute(users.update().where(users.c.id == user_id)
                         .values(totp_secret=keyring.encrypt(secret)))


def downgrade():
    conn = op.get_bind()
    rows = conn.execute(sa.select(users.c.id, users.c.totp_secret).where(users.c.totp_secret.is_not(None))).all()
    for user_id, token in rows:
        if _is_token(token):
            conn.execute(users.update().where(users.c.id == user_id)
                         .values(totp_secret=keyring.decrypt(token)))

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('totp_secret',
               existing_type=sa.Text(),
               type_=sa.VARCHAR(length=64),
               existing_nullable=True)

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('anonymised')
        batch_op.drop_column('identifying_details')
