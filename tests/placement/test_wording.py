"""Reasons worded from their codes and values; rows stored before the values were kept read the same."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from flask_babel import refresh

from placement.engine import hard_reasons
from placement.wording import exclusion_rows, reason_label, reason_text
from tests.placement.test_i18n_views import REASON_CASES


def _migration():
    spec = importlib.util.spec_from_file_location(
        "migration_0012", Path(__file__).parents[2] / "migrations" / "versions" / "0012_why_empty.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_migration_reads_back_the_values_every_old_message_quoted(app):
    """0012 gives old rows the values from their English; each reads as the engine's own values do, in every
    language (the migration drops only `needed` where no bed is free, which the wording does not quote)."""
    values_of = _migration().values_of
    reasons = [r for profile, candidate in REASON_CASES for r in hard_reasons(profile, candidate)]
    for reason in reasons:
        recovered = values_of(reason.code, reason.message)
        expected = dict(reason.values)
        if reason.code == "no_free_beds" and expected["free"] == 0:
            expected.pop("needed")
        assert recovered == expected, reason
    for language in ("en", "sq", "sr"):
        with app.test_request_context(headers={"Accept-Language": language}):
            refresh()
            for reason in reasons:
                assert (reason_text(reason.code, values_of(reason.code, reason.message))
                        == reason_text(reason.code, reason.values))


def test_unknown_or_missing_values_fall_back_to_the_code_label_never_to_english_text(app):
    with app.test_request_context(headers={"Accept-Language": "sq"}):
        refresh()
        assert reason_text("service", {}) == reason_label("service")
        assert reason_text("no_free_beds", {"free": "x"}) == reason_label("no_free_beds")
        assert reason_text("brand_new_code", {"a": 1}) == "brand new code"
        rows = exclusion_rows([{"shelter": "A", "reasons": ["does not take men"], "codes": ["sex"]}])
        assert rows == [("A", [reason_label("sex")])]
