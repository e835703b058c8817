"""The words the reports show for stored codes (sex, forms of exploitation, outcomes, reasons, statuses)."""

from __future__ import annotations

from i18n import lazy_gettext as _l

NOT_RECORDED = "not recorded"

SEX = {"female": _l("Female"), "male": _l("Male")}
EXPLOITATION = {
    "sexual": _l("Sexual exploitation"), "labour": _l("Labour exploitation"), "begging": _l("Forced begging"),
    "criminal_activity": _l("Forced criminal activity"), "forced_marriage": _l("Forced marriage"),
    "other": _l("Other form"),
}
CASE_STATUS = {
    "identified": _l("Identified"), "awaiting_placement": _l("Awaiting placement"), "placed": _l("Placed"),
    "declined_shelter": _l("Declined shelter"), "discharged": _l("Discharged"),
}
SHELTER_STATUS = {"open": _l("open"), "suspended": _l("suspended"), "closed": _l("closed")}
DISCHARGE_REASON = {
    "repatriated": _l("Repatriated"), "reintegrated": _l("Reintegrated"), "transferred": _l("Transferred"),
    "left_voluntarily": _l("Left voluntarily"), "other": _l("Other"),
}
DECLINE_REASON = {
    "fear_of_traffickers": _l("Fear of the traffickers"), "wants_to_return_home": _l("Wants to return home"),
    "distrust_of_authorities": _l("Distrust of the authorities"), "family_or_children": _l("Family or children"),
    "shelter_too_far": _l("The shelter is too far"), "shelter_rules": _l("The shelter's rules"),
    "stays_with_family_or_friends": _l("Stays with family or friends"), "other": _l("Other reason"),
}
REJECT_REASON = {
    "no_free_bed": _l("No free bed after all"), "cannot_meet_needs": _l("Cannot meet the victim's needs"),
    "security_concern": _l("Security concern"), "no_staff_available": _l("No staff available"),
    "other": _l("Other reason"),
}
OTHER = {NOT_RECORDED: _l("Not recorded")}


def label(labels: dict, code: str | None) -> str:
    """The word for `code`, or the code itself (spaces for underscores) when it has none."""
    if code is None or code == NOT_RECORDED:
        return str(OTHER[NOT_RECORDED])
    found = labels.get(code)
    return str(found) if found is not None else code.replace("_", " ")
