"""The engine's exclusion reasons in the reader's language, from their codes and values.

`placement.engine.Reason` carries a code and the values its English message quotes; a request stores both
beside the message. Pages word a reason here from the code and the values alone, so no page reads the English
sentence and every language words it its own way. A code or value this module does not know (an older engine, a
stored row from before the values were kept) falls back to the code's label, never to the English message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext

from i18n import lazy_gettext as _l
from shelters.forms import SERVICE_LABELS

# How many shelters a hard constraint left out, in words: "3 shelters: no free bed".
# The score's terms, as a ranking and the funnel's "passed over" name them.
TERM_LABELS = {
    "distance": _l("Distance"),
    "language": _l("Shared language"),
    "services": _l("Extra services"),
    "utilisation": _l("Low utilisation"),
}
REASON_LABELS = {
    "status": _l("not open"),
    "no_free_beds": _l("no free bed"),
    "sex": _l("do not take this sex"),
    "age": _l("do not take this age"),
    "children": _l("not enough beds for the accompanying children"),
    "service": _l("a required service is missing"),
    "trafficker_region": _l("in a region linked to the traffickers"),
    "security": _l("security too low for the risk"),
    "excluded": _l("left out by the requester"),
}

_STATUS = {"suspended": _l("suspended"), "closed": _l("closed")}
_PEOPLE = {
    ("female", False): _l("does not take women"),
    ("male", False): _l("does not take men"),
    ("female", True): _l("does not take girls"),
    ("male", True): _l("does not take boys"),
}
_AGE = {"minors": _l("does not take minors"), "adults": _l("does not take adults")}
_MISSING_SERVICE = {
    "psychological": _l("no psychological care"),
    "medical": _l("no medical care"),
    "legal": _l("no legal aid"),
    "interpretation": _l("no interpretation"),
    "vocational": _l("no vocational training"),
    "disability_access": _l("no disability access"),
}
_SECURITY_WORDS = {"standard": _l("standard"), "high": _l("high")}


def _status(values: Mapping[str, Any]) -> str | None:
    word = _STATUS.get(values.get("status"))
    return str(word) if word is not None else None


def _no_free_beds(values: Mapping[str, Any]) -> str | None:
    free, needed = values.get("free"), values.get("needed")
    if not isinstance(free, int):
        return None
    if free > 0:
        if not isinstance(needed, int):
            return None
        return _("not enough free beds: %(free)s free, %(needed)s needed", free=free, needed=needed)
    if "taken" in values and "usable" in values:
        return _("no free bed: %(taken)s of %(usable)s taken", taken=values["taken"], usable=values["usable"])
    return _("no free bed: no usable beds")


def _sex(values: Mapping[str, Any]) -> str | None:
    words = _PEOPLE.get((values.get("sex"), bool(values.get("minor"))))
    return str(words) if words is not None else None


def _age(values: Mapping[str, Any]) -> str | None:
    words = _AGE.get(values.get("group"))
    return str(words) if words is not None else None


def _children(values: Mapping[str, Any]) -> str | None:
    capacity, needed = values.get("capacity"), values.get("needed")
    if not isinstance(capacity, int) or not isinstance(needed, int):
        return None
    if capacity <= 0:
        return _("no beds for accompanying children, %(needed)s needed", needed=needed)
    return ngettext("only %(num)d bed for accompanying children, %(needed)s needed",
                    "only %(num)d beds for accompanying children, %(needed)s needed", capacity, needed=needed)


def _service(values: Mapping[str, Any]) -> str | None:
    service = values.get("service")
    if not isinstance(service, str):
        return None
    words = _MISSING_SERVICE.get(service)
    if words is not None:
        return str(words)
    label = str(SERVICE_LABELS.get(service, service.replace("_", " "))).lower()
    return _("no %(service)s service", service=label)


def _security(values: Mapping[str, Any]) -> str | None:
    level = values.get("level")
    if not isinstance(level, str):
        return None
    return _("security %(level)s, high risk needs high", level=_SECURITY_WORDS.get(level, level))


_WORDING: dict[str, Callable[[Mapping[str, Any]], str | None]] = {
    "status": _status,
    "no_free_beds": _no_free_beds,
    "sex": _sex,
    "age": _age,
    "children": _children,
    "service": _service,
    "trafficker_region": lambda values: str(_l("in a region linked to the traffickers")),
    "security": _security,
    "excluded": lambda values: str(_l("excluded by the requester")),
}


def reason_label(code: str) -> str:
    """A reason's code as a short label ("no free bed"); an unknown code as itself, underscores as spaces."""
    label = REASON_LABELS.get(code)
    return str(label) if label is not None else code.replace("_", " ")


def reason_text(code: str, values: Mapping[str, Any] | None = None) -> str:
    """One exclusion reason in the page's language, from its code and values; the code's label where the values
    are missing or not understood."""
    words = _WORDING.get(code)
    text = words(values or {}) if words is not None else None
    return text if text is not None else reason_label(code)


def stored_reasons(exclusion: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(code, values) of each reason of one stored exclusion (`Ranking.as_json`); a row stored without values
    gives empty values."""
    codes = exclusion.get("codes") or []
    values = exclusion.get("values") or []
    return [(code, values[i] if i < len(values) and isinstance(values[i], dict) else {})
            for i, code in enumerate(codes)]


def exclusion_rows(excluded: Iterable[Mapping[str, Any]]) -> list[tuple[str, list[str]]]:
    """(shelter code, its reasons in the page's language) for each shelter the engine left out."""
    return [(e["shelter"], [reason_text(code, values) for code, values in stored_reasons(e)]) for e in excluded]
