"""How an alert reads, in the reader's language: its text, kind, severity, status and subject.

Alerts are stored with the figures behind them and an English `message` (what the API and the logs
show). Pages and the e-mail digest never show that English text: they render it again, at display
time, from the alert's kind, subject and figures, through the current locale's catalogue. An alert
whose figures lack what its sentence needs (written by an older version of the rules) falls back to
its stored English message rather than a wrong sentence.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol

from babel import Locale, numbers
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _

from alerts import rules
from alerts.models import AlertStatus, Severity
from i18n import lazy_gettext as _l
from i18n import lazy_pgettext


class Described(Protocol):
    """What an alert's text is made from: an `Alert`, or a row selecting these columns of one."""

    kind: str
    subject_type: str
    subject: str
    figures: dict[str, Any]
    message: str


KIND_LABELS = {
    rules.UNUSED_FACILITY: _l("Unused shelter"),
    rules.LOW_UTILISATION: _l("Low utilisation"),
    rules.NEAR_CAPACITY: _l("Nearly full"),
    rules.OVER_CAPACITY: _l("Over capacity"),
    rules.STALE_HEADCOUNT: _l("Headcount not confirmed"),
    rules.PLACEMENT_UNANSWERED: _l("Placement request unanswered"),
    rules.IDENTIFICATION_DROP: _l("Drop in identifications"),
    rules.UNUSUAL_ACCESS: _l("Unusual access"),
    rules.SYSTEM: _l("Failed scheduled job"),
}

# A context of their own: "Warning" and "Alert" read alike in Serbian, and a severity must not.
SEVERITY_LABELS = {
    Severity.CRITICAL: lazy_pgettext("severity", "Critical"),
    Severity.WARNING: lazy_pgettext("severity", "Warning"),
    Severity.INFO: lazy_pgettext("severity", "Info"),
}

STATUS_LABELS = {
    AlertStatus.OPEN: _l("Open"),
    AlertStatus.ACKNOWLEDGED: _l("Acknowledged"),
    AlertStatus.RESOLVED: _l("Resolved"),
}


@lru_cache(maxsize=8192)
def _formatted(style: str, locale: Locale | None, kind: type, value: float) -> str:
    # `kind` keeps 1 and 1.0 apart in the cache: Babel writes them differently.
    if style == "percent":
        return numbers.format_percent(value, locale=locale)
    return numbers.format_decimal(value, locale=locale)


def format_decimal(value: float) -> str:
    """flask_babel.format_decimal, each number said once per language: a queue of 1,000 alerts repeats the
    same few hundred numbers, and Babel reads its pattern afresh for each call."""
    return _formatted("decimal", get_locale(), type(value), value)


def format_percent(value: float) -> str:
    """flask_babel.format_percent, each share said once per language (as format_decimal)."""
    return _formatted("percent", get_locale(), type(value), value)


def kind_label(kind: str) -> str:
    label = KIND_LABELS.get(kind)
    return str(label) if label is not None else kind.replace("_", " ")


def severity_label(severity: str) -> str:
    label = SEVERITY_LABELS.get(severity)  # type: ignore[call-overload]
    return str(label) if label is not None else severity


def status_label(status: str) -> str:
    label = STATUS_LABELS.get(status)  # type: ignore[call-overload]
    return str(label) if label is not None else status


def subject_label(alert: Described) -> str:
    """What the alert is about, in words: "Shelter HAH", "Country", "Job digest"."""
    if alert.subject_type == "country":
        if alert.subject == rules.COUNTRY:
            return _("Country")
        return _("Region %(region)s", region=alert.subject)
    if alert.subject_type == "request":
        return _("Placement request %(request)s", request=alert.subject)
    if alert.subject_type == "system":
        if alert.figures.get("service"):
            return _("Service %(service)s", service=alert.subject)
        return _("Job %(job)s", job=alert.subject)
    if alert.subject_type == "user":
        return _("User %(user)s", user=alert.subject)
    if alert.subject_type == "shelter":
        return _("Shelter %(shelter)s", shelter=alert.subject)
    return alert.subject


def age(since: datetime, now: datetime) -> str:
    """How long ago `since` was, roughly: "3 days", "5 hours", "under an hour"."""
    span = now - since
    if span.days >= 1:
        return ngettext("%(count)s day", "%(count)s days", span.days, count=format_decimal(span.days))
    hours = int(span.total_seconds() // 3600)
    if hours < 1:
        return _("under an hour")
    return ngettext("%(count)s hour", "%(count)s hours", hours, count=format_decimal(hours))


# --- the alert's text, one sentence per kind, filled from its figures ---------------------------------------


def _int(figures: Mapping[str, Any], key: str) -> int:
    return int(figures[key])


def _unused_facility(alert: Described, f: Mapping[str, Any]) -> str:
    if f.get("never_used"):
        return _("%(shelter)s never used", shelter=alert.subject)
    days = _int(f, "days_unused")
    return ngettext("%(shelter)s unused for %(count)s day", "%(shelter)s unused for %(count)s days", days,
                    shelter=alert.subject, count=format_decimal(days))


def _low_utilisation(alert: Described, f: Mapping[str, Any]) -> str:
    days = _int(f, "days")
    return ngettext(
        "%(shelter)s used %(share)s of its bed-nights over %(count)s day (floor %(floor)s)",
        "%(shelter)s used %(share)s of its bed-nights over %(count)s days (floor %(floor)s)",
        days, shelter=alert.subject, share=format_percent(float(f["utilisation"])), count=format_decimal(days),
        floor=format_percent(float(f["floor"])))


def _over_capacity(alert: Described, f: Mapping[str, Any]) -> str:
    occupied = _int(f, "occupied")
    return ngettext("%(shelter)s over capacity: %(count)s bed taken, %(usable)s usable",
                    "%(shelter)s over capacity: %(count)s beds taken, %(usable)s usable",
                    occupied, shelter=alert.subject, count=format_decimal(occupied),
                    usable=format_decimal(_int(f, "usable")))


def _near_capacity(alert: Described, f: Mapping[str, Any]) -> str:
    usable = _int(f, "usable")
    return ngettext("%(shelter)s nearly full: %(taken)s of %(count)s usable bed taken or held",
                    "%(shelter)s nearly full: %(taken)s of %(count)s usable beds taken or held",
                    usable, shelter=alert.subject, taken=format_decimal(_int(f, "occupied") + _int(f, "reserved")),
                    count=format_decimal(usable))


def _stale_headcount(alert: Described, f: Mapping[str, Any]) -> str:
    hours = _int(f, "hours_since")
    never = f.get("last_headcount_at") is None
    # The rules say hours up to two days, days beyond.
    if hours >= 48:
        days = hours // 24
        if never:
            return ngettext("No headcount from %(shelter)s for %(count)s day (none since registration)",
                            "No headcount from %(shelter)s for %(count)s days (none since registration)",
                            days, shelter=alert.subject, count=format_decimal(days))
        return ngettext("No headcount from %(shelter)s for %(count)s day",
                        "No headcount from %(shelter)s for %(count)s days",
                        days, shelter=alert.subject, count=format_decimal(days))
    if never:
        return ngettext("No headcount from %(shelter)s for %(count)s hour (none since registration)",
                        "No headcount from %(shelter)s for %(count)s hours (none since registration)",
                        hours, shelter=alert.subject, count=format_decimal(hours))
    return ngettext("No headcount from %(shelter)s for %(count)s hour",
                    "No headcount from %(shelter)s for %(count)s hours",
                    hours, shelter=alert.subject, count=format_decimal(hours))


def _placement_unanswered(alert: Described, f: Mapping[str, Any]) -> str:
    hours = _int(f, "hours")
    if hours == 0 and "minutes" in f:  # an emergency escalates after minutes
        minutes = _int(f, "minutes")
        return ngettext("Placement request %(request)s unanswered for %(count)s minute",
                        "Placement request %(request)s unanswered for %(count)s minutes",
                        minutes, request=alert.subject, count=format_decimal(minutes))
    if hours >= 48:
        days = hours // 24
        return ngettext("Placement request %(request)s unanswered for %(count)s day",
                        "Placement request %(request)s unanswered for %(count)s days",
                        days, request=alert.subject, count=format_decimal(days))
    return ngettext("Placement request %(request)s unanswered for %(count)s hour",
                    "Placement request %(request)s unanswered for %(count)s hours",
                    hours, request=alert.subject, count=format_decimal(hours))


def _identification_drop(alert: Described, f: Mapping[str, Any]) -> str:
    return _("Identifications down %(drop)s year over year (%(recent)s vs %(previous)s)",
             drop=format_percent(float(f["drop"])), recent=format_decimal(_int(f, "last_12_months")),
             previous=format_decimal(_int(f, "previous_12_months")))


def _unusual_access(alert: Described, f: Mapping[str, Any]) -> str:
    reads = _int(f, "reads_last_hour")
    return ngettext(
        "%(user)s read %(count)s case or shelter address in the last hour (threshold %(threshold)s)",
        "%(user)s read %(count)s cases or shelter addresses in the last hour (threshold %(threshold)s)",
        reads, user=alert.subject, count=format_decimal(reads), threshold=format_decimal(_int(f, "threshold")))


def _system(alert: Described, f: Mapping[str, Any]) -> str:
    if f.get("service"):
        return _("The %(store)s store of shared rate limits does not answer: each instance counts sign-in attempts "
                 "on its own until it does", store=f.get("store") or "?")
    # The error itself is technical detail (an exception's name and text) and stays as raised, in English.
    return _("The scheduled job '%(job)s' failed: %(error)s", job=f.get("job") or alert.subject, error=f["error"])


TEXTS: dict[str, Callable[[Described, Mapping[str, Any]], str]] = {
    rules.UNUSED_FACILITY: _unused_facility,
    rules.LOW_UTILISATION: _low_utilisation,
    rules.OVER_CAPACITY: _over_capacity,
    rules.NEAR_CAPACITY: _near_capacity,
    rules.STALE_HEADCOUNT: _stale_headcount,
    rules.PLACEMENT_UNANSWERED: _placement_unanswered,
    rules.IDENTIFICATION_DROP: _identification_drop,
    rules.UNUSUAL_ACCESS: _unusual_access,
    rules.SYSTEM: _system,
}


def describe(alert: Described) -> str:
    """The alert's text in the current locale, from its kind, subject and figures.

    Falls back to the stored English `message` for a kind without a sentence here, or figures that
    lack a value the sentence needs.
    """
    text = TEXTS.get(alert.kind)
    if text is None:
        return alert.message
    try:
        return text(alert, alert.figures or {})
    except (KeyError, TypeError, ValueError):
        return alert.message
