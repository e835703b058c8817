"""Identifying data is encrypted at rest (database.EncryptedText), keys rotate, and the migration
encrypts the TOTP secrets it finds."""

from __future__ import annotations

import stat

import pyotp
import pytest
from cryptography.fernet import Fernet, InvalidToken
from flask_migrate import downgrade, upgrade
from sqlalchemy import select, text

from accounts import services as account_services
from accounts.models import AuditEvent, User
from app import create_app
from config import Config, TestConfig
from database import encryption_keys, keyring
from extensions import db
from shelters.models import Case

NEW_KEY = Fernet.generate_key().decode()


def raw(table: str, column: str, row_id: int) -> str | None:
    """The stored value itself, read with Core, past the type that would decrypt it."""
    return db.session.execute(text(f"SELECT {column} FROM {table} WHERE id = :id"), {"id": row_id}).scalar_one()


def test_stored_values_are_ciphertext_and_load_as_plain_text(app, make, now):
    case = make.case(make.user("police"), identifying_details="passport MD 1234567")
    user = make.user("secretariat")
    secret = account_services.begin_totp_enrolment(db.session, user)
    db.session.commit()
    stored_details, stored_secret = raw("cases", "identifying_details", case.id), raw("users", "totp_secret", user.id)
    assert "1234567" not in stored_details and secret not in stored_secret
    assert Fernet(TestConfig().SAFEHAVEN_ENCRYPTION_KEYS[0]).decrypt(stored_details.encode()) == b"passport MD 1234567"
    # Two encryptions of one value differ (random IV): equal details cannot be matched in the table.
    other = make.case(identifying_details="passport MD 1234567")
    assert raw("cases", "identifying_details", other.id) != stored_details
    db.session.expire_all()
    assert db.session.get(Case, case.id).identifying_details == "passport MD 1234567"
    assert db.session.get(User, user.id).totp_secret == secret
    assert make.case().identifying_details is None and raw("cases", "identifying_details", other.id + 1) is None


def test_the_second_factor_still_works_encrypted(app, make, now):
    user = make.user("secretariat")
    secret = account_services.begin_totp_enrolment(db.session, user)
    db.session.commit()
    db.session.expire_all()
    codes = account_services.confirm_totp_enrolment(db.session, user, pyotp.TOTP(secret).at(now), now)
    assert len(codes) == 10 and db.session.get(User, user.id).has_totp


def test_rotation_reencrypts_with_the_newest_key(app, make, runner):
    old_key = app.config["SAFEHAVEN_ENCRYPTION_KEYS"][0]
    case = make.case(identifying_details="ID card 998877")
    user = make.user("police")
    account_services.begin_totp_enrolment(db.session, user)
    db.session.commit()
    secret = db.session.get(User, user.id).totp_secret
    before = raw("cases", "identifying_details", case.id), raw("users", "totp_secret", user.id)

    # The operator puts a new key first: old values still decrypt, new ones use the new key.
    keyring.bind([NEW_KEY, old_key])
    try:
        db.session.expire_all()
        assert db.session.get(Case, case.id).identifying_details == "ID card 998877"
        fresh = make.case(identifying_details="new")
        Fernet(NEW_KEY).decrypt(raw("cases", "identifying_details", fresh.id).encode())

        result = runner.invoke(args=["keys", "rotate"])
        assert result.exit_code == 0, result.output
        assert "3 encrypted values re-encrypted" in result.output
        after = raw("cases", "identifying_details", case.id), raw("users", "totp_secret", user.id)
        assert after[0] != before[0] and after[1] != before[1]
        with pytest.raises(InvalidToken):
            Fernet(old_key).decrypt(after[0].encode())
        # The newest key alone now opens everything.
        keyring.bind([NEW_KEY])
        db.session.expire_all()
        assert db.session.get(Case, case.id).identifying_details == "ID card 998877"
        assert db.session.get(User, user.id).totp_secret == secret
        (event,) = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "keys.rotate"))
        assert event.detail == {"values": 3}
    finally:
        keyring.bind([old_key])


def test_rotation_without_the_old_key_changes_nothing(app, make, runner):
    old_key = app.config["SAFEHAVEN_ENCRYPTION_KEYS"][0]
    case = make.case(identifying_details="kept")
    before = raw("cases", "identifying_details", case.id)
    keyring.bind([NEW_KEY])  # the old key was dropped too early
    try:
        result = runner.invoke(args=["keys", "rotate"])
        assert result.exit_code != 0 and "nothing was changed" in result.output
    finally:
        keyring.bind([old_key])
    db.session.rollback()
    assert raw("cases", "identifying_details", case.id) == before


def test_keys_come_from_the_environment_newest_first(monkeypatch, tmp_path):
    second = Fernet.generate_key().decode()
    monkeypatch.setenv("SAFEHAVEN_ENCRYPTION_KEYS", f" {NEW_KEY} ,{second},")
    assert Config().SAFEHAVEN_ENCRYPTION_KEYS == [NEW_KEY, second]
    assert encryption_keys(Config().SAFEHAVEN_ENCRYPTION_KEYS, tmp_path / "unused") == [NEW_KEY, second]
    assert not (tmp_path / "unused").exists()


def test_without_configured_keys_one_is_generated_in_the_instance_folder(tmp_path):
    key_file = tmp_path / "encryption_key"
    (key,) = encryption_keys([], key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    Fernet(key.encode())  # a valid key
    assert encryption_keys([], key_file) == [key]  # kept across restarts


def test_a_malformed_key_is_refused_when_the_app_is_created(tmp_path):
    config = TestConfig(f"sqlite:///{tmp_path / 'x.db'}")
    config.SAFEHAVEN_ENCRYPTION_KEYS = ["not-a-key"]
    try:
        with pytest.raises(ValueError):
            create_app(config)
    finally:
        keyring.bind(TestConfig().SAFEHAVEN_ENCRYPTION_KEYS)


def test_the_migration_encrypts_existing_totp_secrets(tmp_path):
    app = create_app(TestConfig(f"sqlite:///{tmp_path / 'migrated.db'}"))
    with app.app_context():
        upgrade(revision="0004_security")
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO users (username, role, password_hash, active, session_version, created_at,"
                              " failed_logins, totp_secret) VALUES ('sec', 'secretariat', 'x', 1, 1,"
                              " '2026-01-01 00:00:00', 0, 'JBSWY3DPEHPK3PXP')"))
        upgrade()
        with db.engine.connect() as conn:
            stored = conn.execute(text("SELECT totp_secret FROM users")).scalar_one()
        assert stored != "JBSWY3DPEHPK3PXP" and keyring.decrypt(stored) == "JBSWY3DPEHPK3PXP"
        assert db.session.scalar(select(User.totp_secret)) == "JBSWY3DPEHPK3PXP"
        db.session.remove()
        downgrade(revision="0004_security")
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT totp_secret FROM users")).scalar_one() == "JBSWY3DPEHPK3PXP"
