from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from cxrsite.health import healthz
from cxrsite.idle import stay_signed_in

urlpatterns = [
    path("", include("cases.urls")),
    path("audit/", include("cases.audit.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", healthz, name="healthz"),
    path("accounts/stay-signed-in", stay_signed_in, name="stay_signed_in"),
    path("admin/", admin.site.urls),
]
