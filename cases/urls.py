"""The clinical pages, one URL module per feature package, all in the "cases" namespace."""

from django.urls import include, path

app_name = "cases"

urlpatterns = [
    path("", include("cases.intake.urls")),
    path("", include("cases.classification.urls")),
    path("", include("cases.reviews.urls")),
    path("", include("cases.dicom.urls")),
    path("", include("cases.notifications.urls")),
]
