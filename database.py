"""The declarative base, column types shared by every domain, and engine set-up.

Times are stored as UTC and always come back timezone-aware, on SQLite
(which has no time zones) as on PostgreSQL. `EncryptedText` columns hold
Fernet tokens: the keys are bound to `keyring` when an app is created, never
read at import time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, MultiFernet
from sqlalchemy import JSON, DateTime, Engine, Integer, MetaData, Text, event, select, type_coerce, update
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Session, registry
from sqlalchemy.types import TypeDecorator

# Stable constraint names, so Alembic migrations are the same on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend; naive values are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; pass an aware UTC time")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Keyring:
    """The Fernet keys of encrypted columns, newest first: the first encrypts, every one decrypts.

    `create_app` binds the keys from SAFEHAVEN_ENCRYPTION_KEYS (or the instance folder's key);
    putting a new key first and running `flask keys rotate` re-encrypts every value with it.
    """

    def __init__(self) -> None:
        self._fernet: MultiFernet | None = None

    def bind(self, keys: Sequence[str]) -> None:
        """Use `keys` (URL-safe base64 Fernet keys, newest first); raises ValueError on none or a malformed one."""
        if not keys:
            raise ValueError("no encryption key given")
        self._fernet = MultiFernet([Fernet(key.encode() if isinstance(key, str) else key) for key in keys])

    @property
    def fernet(self) -> MultiFernet:
        if self._fernet is None:
            raise RuntimeError("no encryption keys bound: create the app first")
        return self._fernet

    def encrypt(self, value: str) -> str:
        return self.fernet.encrypt(value.encode()).decode()

    def decrypt(self, token: str) -> str:
        """The plain text; raises cryptography's InvalidToken when no bound key opens `token`."""
        return self.fernet.decrypt(token.encode()).decode()

    def rotate(self, token: str) -> str:
        """`token` re-encrypted with the newest key (same plain text)."""
        return self.fernet.rotate(token.encode()).decode()


keyring = Keyring()


def configured_or_instance_keys(configured: Sequence[str], key_file: Path, generate: Callable[[], str]) -> list[str]:
    """The configured keys (newest first), or else the one in `key_file`, made by `generate` (mode 0600) on
    first use. The encryption keys and the audit keys are both found this way."""
    keys = [k.strip() for k in configured if k and k.strip()]
    if keys:
        return keys
    if not key_file.exists():
        key_file.touch(mode=0o600)
        key_file.write_text(generate())
        key_file.chmod(0o600)
    return [key_file.read_text().strip()]


def encryption_keys(configured: Sequence[str], key_file: Path) -> list[str]:
    """The configured Fernet keys, or else the one in `key_file`, generated (mode 0600) on first use."""
    return configured_or_instance_keys(configured, key_file, lambda: Fernet.generate_key().decode())


class EncryptedText(TypeDecorator[str]):
    """Text encrypted at rest with the keyring's newest key; decrypted on load.

    Stored as a Fernet token (AES-128-CBC with HMAC-SHA256, base64 text). Nothing in
    the database or its backups reads without the key. Not searchable or sortable.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else keyring.encrypt(value)

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else keyring.decrypt(value)


def encrypted_columns(metadata: MetaData) -> list[tuple[Any, Any]]:
    """(table, column) for every EncryptedText column in `metadata`."""
    return [(table, column) for table in metadata.sorted_tables for column in table.columns
            if isinstance(column.type, EncryptedText)]


def reencrypt_all(connection: Any, metadata: MetaData) -> int:
    """Re-encrypt every encrypted value with the newest key; returns how many values were rewritten.

    Reads and writes the stored tokens with Core, as text, never loading the plain text into
    objects. Raises cryptography's InvalidToken when a value opens with none of the bound keys
    (a key still in use was removed); the caller's transaction then writes nothing.
    """
    count = 0
    for table, column in encrypted_columns(metadata):
        key = list(table.primary_key.columns)
        stored = type_coerce(column, Text())
        for row in connection.execute(select(*key, stored).where(column.is_not(None))).all():
            connection.execute(
                update(table)
                .where(*[c == row[i] for i, c in enumerate(key)])
                .values({column.name: type_coerce(keyring.rotate(row[-1]), Text())})
            )
            count += 1
    return count


# JSON everywhere, JSONB where PostgreSQL can index and compare it.
JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime},
    )


def utcnow() -> datetime:
    return datetime.now(UTC)


# Execution option of a connection whose transaction only reads (see `begin_read_only`).
READ_ONLY = "safehaven_read_only"


class WriteInReadOnlyTransaction(Exception):
    """A statement tried to write inside a transaction begun by `begin_read_only`.

    Nothing was written. The caller rolls back and does the whole unit of work again in an
    ordinary (write-locking) transaction, so every read its writes depend on is made under the
    lock. The web request wrapper does this for GET requests that turn out to write.
    """


def begin_read_only(session: Session) -> bool:
    """Begin `session`'s next transaction as one that only reads; False if one is already under way.

    On SQLite it begins DEFERRED, taking no lock, so readers run side by side instead of queueing
    behind each other's BEGIN IMMEDIATE; the database refuses every write in it (PRAGMA
    query_only), which `session` raises as WriteInReadOnlyTransaction. On PostgreSQL, where reads
    never block, the transaction is an ordinary one. `end_read_only` closes it.
    """
    if session.in_transaction():
        return False
    session.connection(execution_options={READ_ONLY: True})
    session.info[READ_ONLY] = True
    return True


def end_read_only(session: Session) -> None:
    """Close a transaction begun by `begin_read_only` (rolling back: it cannot have written), so the
    session's next transaction is an ordinary, write-locking one. Does nothing otherwise."""
    if session.info.pop(READ_ONLY, False):
        session.rollback()


def configure_sqlite(engine: Engine) -> None:
    """WAL, foreign keys, a busy timeout, and write-locking transactions on SQLite.

    Every transaction starts with BEGIN IMMEDIATE, so two requests that both
    check "is a bed free?" and then write are serialised by SQLite itself: the
    second waits for the first to commit and then sees its bed taken. This is
    what makes admissions and reservations race-free on the embedded database,
    the way SELECT ... FOR UPDATE on the shelter row does on PostgreSQL.

    The exception is a transaction begun by `begin_read_only`: a plain (deferred)
    BEGIN that cannot write at all, so it needs no lock and can never act on a read
    another writer has since made stale.
    """
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("PRAGMA query_only=ON")
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("PRAGMA query_only=OFF")
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    @event.listens_for(engine, "handle_error")
    def _on_error(context: Any) -> None:
        connection = context.connection
        code = getattr(context.original_exception, "sqlite_errorcode", None)
        if (connection is not None and connection.get_execution_options().get(READ_ONLY)
                and code is not None and code & 0xFF == sqlite3.SQLITE_READONLY):
            raise WriteInReadOnlyTransaction(context.statement) from context.original_exception


class epoch_day(FunctionElement[int]):
    """Whole days since 1970-01-01 of a UTC timestamp column, in SQL, on either backend."""

    type = Integer()
    inherit_cache = True


@compiles(epoch_day, "sqlite")
def _epoch_day_sqlite(element: epoch_day, compiler: Any, **kw: Any) -> str:
    (arg,) = list(element.clauses)
    return f"CAST(julianday(date({compiler.process(arg, **kw)})) - 2440587.5 AS INTEGER)"


@compiles(epoch_day, "postgresql")
def _epoch_day_postgresql(element: epoch_day, compiler: Any, **kw: Any) -> str:
    (arg,) = list(element.clauses)
    return f"((({compiler.process(arg, **kw)}) AT TIME ZONE 'UTC')::date - DATE '1970-01-01')"
