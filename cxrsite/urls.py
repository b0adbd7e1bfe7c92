from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from cases.audit import urls as audit_urls
from cases.oversight import urls as oversight_urls
from cases.validation import urls as validation_urls
from cxrsite.health import healthz
from cxrsite.idle import stay_signed_in
from cxrsite.language import choose_language

urlpatterns = [
    path("", include("cases.urls")),
    # The administrators' section: the audit trail's pages and the oversight pages, one "audit"
    # namespace (their URL names are older than the two packages).
    path("api/", include("cases.integrations.urls")),
    path("audit/", include((audit_urls.urlpatterns + oversight_urls.urlpatterns + validation_urls.urlpatterns, "audit"))),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", healthz, name="healthz"),
    path("accounts/stay-signed-in", stay_signed_in, name="stay_signed_in"),
    path("admin/", admin.site.urls),
    path("language", choose_language, name="choose_language"),
    # The scripts' strings (gettext() in static/cxr/*.js), from the djangojs catalogues, served here.
    path("jsi18n/", login_not_required(JavaScriptCatalog.as_view()), name="javascript-catalog"),
]
