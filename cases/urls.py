from django.urls import path

from .views import intake, review, status

app_name = "cases"

urlpatterns = [
    path("", intake.home, name="home"),
    path("cases/", intake.case_list, name="case_list"),
    path("cases/new/", intake.case_new, name="case_new"),
    path("cases/<uuid:public_id>/", intake.case_detail, name="case_detail"),
    path("cases/<uuid:public_id>/image/<slug:kind>", intake.image, name="image"),
    path("cases/<uuid:public_id>/status", status.case_status, name="case_status"),
    path("cases/<uuid:public_id>/retry", status.case_retry, name="case_retry"),
    path("worklist/", review.worklist, name="worklist"),
    path("cases/<uuid:public_id>/review", review.review, name="review"),
    path("cases/<uuid:public_id>/amend", review.amend, name="amend"),
    path("cases/<uuid:public_id>/report", review.report, name="report"),
]
