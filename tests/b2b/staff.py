"""Helpers for the staff-surface tests: staff accounts, Wagtail form posts."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

from b2b.models import ContractPage
from b2b.services.staff import STAFF_GROUP

PASSWORD = "staff-password"


def staff_member(username: str = "staffer", *, in_group: bool = True) -> Any:
    """A staff account (``is_staff``), in the "B2B staff" group unless ``in_group`` is false."""
    from django.contrib.auth.models import Group

    user = get_user_model().objects.create_user(
        username=username, email=f"{username}@example.com", password=PASSWORD, is_staff=True
    )
    if in_group:
        user.groups.add(Group.objects.get(name=STAFF_GROUP))
    return user


CONTRACT_FORM = {
    "name": "",
    "description": "",
    "integration_type": "non-sso",
    "active": "on",
    "max_learners": "",
    "enrollment_fixed_price": "",
    "contract_start": "",
    "contract_end": "",
}


def contract_form(**values: Any) -> dict[str, Any]:
    """The Wagtail contract form's fields, as the browser posts them (``active=""`` unticks)."""
    data = {**CONTRACT_FORM, **{k: "" if v is None else str(v) for k, v in values.items()}}
    if data.get("active") in ("", "False"):
        data.pop("active")
    return data


def contract_edit_form(contract: ContractPage, **values: Any) -> dict[str, Any]:
    """The edit form as it comes filled in for ``contract``, with ``values`` changed."""
    current = {
        "name": contract.name,
        "description": contract.description,
        "integration_type": contract.integration_type,
        "active": "on" if contract.active else "",
        "max_learners": contract.max_learners,
        "enrollment_fixed_price": contract.enrollment_fixed_price,
        "contract_start": contract.contract_start,
        "contract_end": contract.contract_end,
    }
    return contract_form(**{**current, **values})


def organization_form(**values: Any) -> dict[str, Any]:
    data = {"name": "", "org_key": "", "sso_organization_id": "", "description": "", "logo": ""}
    data.update({k: "" if v is None else str(v) for k, v in values.items()})
    return data


def form_fields(html: str, form_id: str) -> dict[str, Any]:
    """What a browser would post for the form ``form_id`` as the page shows it: inputs with
    their values (ticked checkboxes only), selected options (lists for multiple selects),
    textareas. Submit buttons are left out."""
    from html.parser import HTMLParser

    class Parser(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.inside = False
            self.data: dict[str, Any] = {}
            self.select: tuple[str, bool] | None = None
            self.textarea: str | None = None

        def handle_starttag(self, tag: str, attrs: list) -> None:
            a = dict(attrs)
            if tag == "form":
                self.inside = a.get("id") == form_id
            if not self.inside:
                return
            name = a.get("name")
            if tag == "input" and name and a.get("type") not in ("submit", "button", "file"):
                if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                    return
                self.data[name] = a.get("value", "on" if a.get("type") == "checkbox" else "")
            elif tag == "select" and name:
                self.select = (name, "multiple" in a)
                if "multiple" in a:
                    self.data[name] = []
            elif tag == "option" and self.select and "selected" in a:
                name, multiple = self.select
                if multiple:
                    self.data[name].append(a.get("value", ""))
                else:
                    self.data[name] = a.get("value", "")
            elif tag == "textarea" and name:
                self.textarea = name
                self.data[name] = ""

        def handle_endtag(self, tag: str) -> None:
            if tag == "form":
                self.inside = False
            elif tag == "select":
                self.select = None
            elif tag == "textarea":
                self.textarea = None

        def handle_data(self, data: str) -> None:
            if self.textarea:
                self.data[self.textarea] += data

    parser = Parser()
    parser.feed(html)
    return {k: v for k, v in parser.data.items() if v is not None}
