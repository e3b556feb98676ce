"""The Django Admin's shared pieces: view-only pages and the history table (SPEC §7)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime

from b2b.services.audit import AUDIT_ACTIONS, audit_history, changes_text, via_label

HISTORY_SHOWN = 20


class ViewOnlyAdmin(admin.ModelAdmin):
    """No add, change or delete, for anyone: the model is changed elsewhere."""

    actions = None

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def wagtail_link(page: Any) -> str:
    """A link to the page's editor in Wagtail."""
    return format_html(
        '<a href="{}">Edit in Wagtail</a>', reverse("wagtailadmin_pages:edit", args=[page.pk])
    )


def history_table(page_id: int) -> str:
    """The page's last ``HISTORY_SHOWN`` audit entries as an HTML table."""
    entries = audit_history(page_id)[-HISTORY_SHOWN:][::-1]
    if not entries:
        return "—"
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                date_format(localtime(e.at), "DATETIME_FORMAT"),
                e.who,
                via_label(e.via),
                AUDIT_ACTIONS.get(e.action, e.action),
                changes_text(e.changes),
            )
            for e in entries
        ),
    )
    return format_html(
        "<table><thead><tr><th>When</th><th>Who</th><th>Through</th><th>What</th>"
        "<th>Changes</th></tr></thead><tbody>{}</tbody></table>",
        rows,
    )
