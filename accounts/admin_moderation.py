"""Admin pieces shared by the moderation screens of every app: actions that ask why, input filters,
and a paginator that does not count a table of millions on every visit.

An action made with `reasoned_action` first shows a page with the selected objects and a reason
field; submitted, it calls its service once per object (accounts.moderation and friends write the
audit log) and reports what was done and what was refused, with the service's own words.
"""

from functools import wraps

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import connections
from django.template.response import TemplateResponse
from django.utils.functional import cached_property

from accounts.moderation import REASON_MAX_CHARS

SHOWN_ON_CONFIRMATION = 20


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=REASON_MAX_CHARS, widget=forms.Textarea(attrs={"rows": 3, "cols": 60}))

    def __init__(self, *args, label: str, required: bool, help_text: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["reason"]
        field.label, field.required, field.help_text = label, required, help_text


def reasoned_action(*, description: str, label: str = "Reason", required: bool = True, help_text: str = ""):
    """Make `apply(modeladmin, request, obj, reason)` an admin action that asks for the reason first.

    Needs the change permission of the model; the services check the moderator's own permissions too.
    """

    def decorate(apply):
        @admin.action(description=description, permissions=["change"])
        @wraps(apply)
        def action(modeladmin, request, queryset):
            submitted = request.POST if "apply" in request.POST else None
            form = ReasonForm(submitted, label=label, required=required, help_text=help_text)
            if submitted is not None and form.is_valid():
                _apply_each(modeladmin, request, queryset, apply, form.cleaned_data["reason"])
                return None  # Back to the list.
            return TemplateResponse(
                request,
                "admin/moderation_reason.html",
                {
                    **modeladmin.admin_site.each_context(request),
                    "title": description,
                    "opts": modeladmin.model._meta,
                    "form": form,
                    "action": request.POST.get("action", ""),
                    "select_across": request.POST.get("select_across", "0"),
                    "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
                    "shown": list(queryset[:SHOWN_ON_CONFIRMATION]),
                    "more": max(0, len(request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)) - SHOWN_ON_CONFIRMATION),
                    "checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                },
            )

        return action

    return decorate


def _apply_each(modeladmin, request, queryset, apply, reason: str) -> None:
    done, refused = 0, []
    for obj in queryset:
        try:
            apply(modeladmin, request, obj, reason)
        except (ValidationError, PermissionDenied) as error:
            words = error.messages if isinstance(error, ValidationError) else [str(error)]
            refused.append(f"{obj}: {' '.join(words)}")
        else:
            done += 1
    if done:
        modeladmin.message_user(request, f"Done for {done} of {done + len(refused)}.", messages.SUCCESS)
    for refusal in refused:
        modeladmin.message_user(request, refusal, messages.ERROR)


def refusals_as_messages(modeladmin, request, work) -> bool:
    """Run `work()`; a service's refusal becomes an error message on the page. True when it ran."""
    try:
        work()
    except (ValidationError, PermissionDenied) as error:
        words = error.messages if isinstance(error, ValidationError) else [str(error)]
        modeladmin.message_user(request, " ".join(words), messages.ERROR)
        return False
    return True


class InputFilter(admin.SimpleListFilter):
    """A list filter that is a text box (an id or a handle), for relations too large to list as links:
    Django's own filter on a foreign key lists every row of the related table."""

    template = "admin/input_filter.html"

    def lookups(self, request, model_admin):
        return ()

    def has_output(self):
        return True

    def choices(self, changelist):
        # The box's form keeps every other filter and the search as hidden fields.
        others = {key: value for key, value in changelist.get_filters_params().items() if key != self.parameter_name}
        if changelist.query:
            others["q"] = changelist.query
        yield {"value": self.value() or "", "others": sorted((key, value) for key, value in _flat(others))}


def _flat(params: dict):
    for key, value in params.items():
        for item in value if isinstance(value, list) else [value]:
            yield key, item


class EstimatingPaginator(Paginator):
    """Counts an unfiltered list of a large table from PostgreSQL's statistics (pg_class.reltuples,
    kept by autovacuum) instead of COUNT(*), which reads the whole table: the list of millions of
    messages then opens in milliseconds, its page count approximate. Filtered lists (and small
    tables, and SQLite) are counted exactly: a filter or search narrows the rows through an index.
    """

    exact_below = 100_000

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        connection = connections[queryset.db]
        if connection.vendor == "postgresql" and not queryset.query.where:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [queryset.model._meta.db_table]
                )
                row = cursor.fetchone()
            if row is not None and row[0] >= self.exact_below:
                return int(row[0])
        return super().count
