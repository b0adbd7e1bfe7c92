"""Integrations in the admin (registered in cases/admin.py): administrators make them, issue and revoke their
tokens and webhook secrets (each shown once), and read the webhook delivery log with every attempt."""

from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy, ngettext

from ..audit.actors import Actor
from ..models import ApiToken, ApiTokenUse, Case, WebhookAttempt
from . import services, webhooks
from .forms import IntegrationAdminForm


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ApiTokenInline(ReadOnlyInline):
    model = ApiToken
    fields = readonly_fields = ["prefix", "created", "created_by", "revoked"]
    verbose_name_plural = gettext_lazy("API tokens (issue one with the action on the list; revoke under API tokens)")


def shown_once(request, *, title: str, what: str, values: list[tuple[str, str]], note: str) -> TemplateResponse:
    """A page that shows new secrets this once: they are kept only as digests (tokens), or never shown again."""
    return TemplateResponse(request, "admin/integrations/shown_once.html", {
        "title": title, "what": what, "values": values, "note": note, "site_header": admin.site.site_header,
        "has_permission": True})


class IntegrationAdmin(admin.ModelAdmin):
    form = IntegrationAdminForm
    list_display = ["name", "active", "clinic_codes", "may_submit", "may_read", "receives_webhooks", "created"]
    list_filter = ["active", "may_submit", "receives_webhooks"]
    search_fields = ["name"]
    filter_horizontal = ["clinics"]
    inlines = [ApiTokenInline]
    actions = ["issue_tokens", "issue_webhook_secrets"]

    @admin.display(description=gettext_lazy("clinics"))
    def clinic_codes(self, integration):
        return ", ".join(clinic.code for clinic in integration.clinics.all())

    def has_delete_permission(self, request, obj=None):
        return False  # cases and events point at it; untick "active" to stop it

    @admin.action(description=gettext_lazy("Issue a new API token for each selected integration (shown once)"),
                  permissions=["change"])
    def issue_tokens(self, request, queryset):
        actor = Actor.of_request(request)
        issued = [(integration.name, services.issue_token(integration=integration, actor=actor))
                  for integration in queryset]
        return shown_once(request, title=gettext("New API tokens"), what="token", values=issued, note=gettext(
            "Copy each token into its system now: it is kept only as a digest and cannot be shown again. "
            "Send it as the header “Authorization: Bearer <token>”. A token that may have leaked is revoked "
            "under API tokens."))

    @admin.action(description=gettext_lazy(
        "Issue a new webhook signing secret for each selected integration (shown once)"),
                  permissions=["change"])
    def issue_webhook_secrets(self, request, queryset):
        actor = Actor.of_request(request)
        issued = [(integration.name, services.issue_webhook_secret(integration=integration, actor=actor))
                  for integration in queryset]
        return shown_once(request, title=gettext("New webhook signing secrets"), what="secret", values=issued,
                          note=gettext("Give each secret to its receiver now: it checks the CXR-Signature header of "
                                       "every webhook with it (README, “Webhooks”). Events from now on, retries "
                                       "included, are signed with the new secret."))


class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["__str__", "integration", "created", "created_by", "revoked", "last_used"]
    list_filter = ["integration", ("revoked", admin.EmptyFieldListFilter)]
    list_select_related = ["integration", "created_by"]
    fields = readonly_fields = ["integration", "prefix", "created", "created_by", "revoked", "recent_use"]
    actions = ["revoke_tokens"]

    def has_add_permission(self, request):
        return False  # issued from the integrations' list, so that the token is shown once

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=gettext_lazy("last used (minute)"))
    def last_used(self, token):
        use = token.uses.first()
        return use.minute if use is not None else "—"

    @admin.display(description=gettext_lazy("requests per minute, latest first (accepted / throttled / refused)"))
    def recent_use(self, token):
        uses = ApiTokenUse.objects.filter(token=token)[:30]
        return "; ".join(f"{timezone.localtime(use.minute):%Y-%m-%d %H:%M}: {use.requests} / {use.throttled} / "
                         f"{use.refused}" for use in uses) or gettext("Never used.")

    @admin.action(description=gettext_lazy("Revoke the selected tokens (refused from the next request on)"),
                  permissions=["change"])
    def revoke_tokens(self, request, queryset):
        actor = Actor.of_request(request)
        revoked = sum(services.revoke_token(token=token, actor=actor) for token in queryset.select_related("integration"))
        self.message_user(request, ngettext("Revoked %(count)s token(s).", "Revoked %(count)s token(s).", revoked)
                          % {"count": revoked}, messages.SUCCESS)


class WebhookAttemptInline(ReadOnlyInline):
    model = WebhookAttempt
    fields = readonly_fields = ["number", "started", "status_code", "error", "duration_ms"]


class WebhookEventAdmin(admin.ModelAdmin):
    """The delivery log: each event, its status and every attempt."""

    list_display = ["public_id", "event", "integration", "case", "status", "attempts", "created", "delivered_at"]
    list_filter = ["status", "event", "integration"]
    list_select_related = ["integration", "case", "case__patient"]
    search_fields = ["public_id", "case__public_id"]
    fields = readonly_fields = ["public_id", "event", "integration", "case", "status", "attempts", "next_attempt",
                                "last_error", "created", "delivered_at", "body"]
    inlines = [WebhookAttemptInline]
    actions = ["deliver_again"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).filter(case__in=Case.objects.visible_to(request.user))

    @admin.action(description=gettext_lazy("Deliver the selected failed events again"), permissions=["change"])
    def deliver_again(self, request, queryset):
        count = webhooks.redeliver(events=queryset, actor=Actor.of_request(request))
        self.message_user(request, ngettext("%(count)s failed event(s) will be delivered again.",
                                            "%(count)s failed event(s) will be delivered again.", count)
                          % {"count": count}, messages.SUCCESS)


class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created", "reason", "channel", "user", "case", "status", "attempts", "sent_at"]
    list_filter = ["status", "channel", "reason"]
    list_select_related = ["user", "case", "case__patient"]
    fields = readonly_fields = ["created", "reason", "channel", "user", "case", "status", "attempts", "last_error",
                                "sent_at"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
