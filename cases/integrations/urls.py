"""The API under /api/ (namespace "api"): version 1 of the operations, the OpenAPI schema and its docs page.
Every view answers a token or a session itself, so none goes through the login page's redirect."""

from django.contrib.auth.decorators import login_not_required
from django.urls import path

from . import views

app_name = "api"


def api_view(view_class):
    return login_not_required(view_class.as_view())


urlpatterns = [
    path("v1/cases/", api_view(views.CasesView), name="cases"),
    path("v1/cases/<uuid:public_id>/", api_view(views.CaseView), name="case"),
    path("v1/cases/<uuid:public_id>/images/<slug:kind>/", api_view(views.CaseImageView), name="case_image"),
    path("v1/cases/<uuid:public_id>/fhir/", api_view(views.CaseFhirView), name="case_fhir"),
    path("v1/me/", api_view(views.CallerView), name="caller"),
    path("schema/", api_view(views.SchemaView), name="schema"),
    path("docs/", views.show_api_docs, name="docs"),
]
