"""Wagtail editor pieces for organizations and contracts: their forms and a read-only panel.

The forms check with the shared validators (``b2b.validators``) and the same rules as the
services (``b2b.services.organizations``), so an editor meets the commands' refusals, as form
errors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from wagtail.admin.forms import WagtailAdminPageForm
from wagtail.admin.forms.pages import CopyForm
from wagtail.admin.panels import Panel

from b2b.validators import (
    display_name_clean,
    validate_contract_dates,
    validate_max_learners,
    validate_org_key,
    validate_price,
)
from main.exceptions import DomainError


def _only_validator(field: forms.Field, validator: Any) -> None:
    """Let the shared validator alone judge a number field (not the widget's own min/max rules),
    so the editor sees the same message as the command line."""
    field.validators = [validator]
    for attribute in ("min_value", "max_value", "max_digits", "decimal_places"):
        if hasattr(field, attribute):
            setattr(field, attribute, None)
    for attribute in ("min", "max"):
        field.widget.attrs.pop(attribute, None)


def _clean_name(
    form: forms.Form, cleaned: dict[str, Any], *, what: str, field: str = "name"
) -> str:
    """The form's name field in its stored form (``display_name_clean``), or a field error and
    ``""``."""
    try:
        name = display_name_clean(cleaned.get(field) or "", what=what)
    except ValidationError as exc:
        form.add_error(field, exc)
        return ""
    if name:
        cleaned[field] = name
    return name


class OrganizationPageForm(WagtailAdminPageForm):
    """Name (unique, case-insensitive), org key (format, unique, fixed once it has runs), SSO ID."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "org_key" in self.fields:
            self.fields["org_key"].validators = [validate_org_key]

    def clean(self) -> dict[str, Any]:
        # A Wagtail seam: b2b.models imports these forms and the services import the models,
        # so the form reaches the services when it is used, not when it is defined.
        from b2b.services.organizations import (
            organization_key_check,
            organization_name_check,
            organization_sso_check,
        )

        cleaned = super().clean()
        organization = self.instance
        name = _clean_name(self, cleaned, what="organization")
        if name:
            organization.title = organization.draft_title = name
        checks: tuple[tuple[str, Any, Callable[..., None]], ...] = (
            ("name", name, organization_name_check),
            ("org_key", cleaned.get("org_key"), organization_key_check),
            ("sso_organization_id", cleaned.get("sso_organization_id"), organization_sso_check),
        )
        for field_name, value, check in checks:
            if value and field_name not in self.errors:
                try:
                    check(value, organization=organization)
                except DomainError as exc:
                    self.add_error(field_name, exc.message)
        return cleaned


class ContractPageForm(WagtailAdminPageForm):
    """Every contract field with the commands' rules: cap ≥ 1, price range, start ≤ end."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "max_learners" in self.fields:
            _only_validator(self.fields["max_learners"], validate_max_learners)
        if "enrollment_fixed_price" in self.fields:
            _only_validator(self.fields["enrollment_fixed_price"], validate_price)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        name = _clean_name(self, cleaned, what="contract")
        if name:
            self.instance.title = self.instance.draft_title = name
        try:
            validate_contract_dates(cleaned.get("contract_start"), cleaned.get("contract_end"))
        except ValidationError as exc:
            self.add_error("contract_end", exc)
        return cleaned


class ContractCopyForm(CopyForm):
    """Copying a contract makes a new, inactive contract with the same terms (no alias, no
    learners, runs or codes): see ``b2b.services.pages.contract_copy``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("alias", "publish_copies", "copy_subpages"):
            self.fields.pop(name, None)
        self.fields["new_title"].label = "Name of the new contract"
        self.fields[
            "new_title"
        ].help_text = "The copy starts inactive, with no learners, runs, products or codes."

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        _clean_name(self, cleaned, what="contract", field="new_title")
        return cleaned


class ContractStatusPanel(Panel):
    """Read-only: the contract's courseware (runs and their edX status), learners against the
    cap, and its enrollment codes by state (``b2b.services.overview``)."""

    class BoundPanel(Panel.BoundPanel):
        template_name = "b2b/panels/contract_status.html"

        def get_context_data(self, parent_context: Any = None) -> Any:
            # A Wagtail seam, as in OrganizationPageForm.clean.
            from b2b.services.overview import contract_overview

            context = super().get_context_data(parent_context)
            context["overview"] = contract_overview(self.instance) if self.instance.pk else None
            return context
