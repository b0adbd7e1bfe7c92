from django.urls import path

from . import views

urlpatterns = [
    path("worklist/", views.show_worklist, name="worklist"),
    path("cases/outcomes", views.show_outcomes, name="outcomes"),
    path("cases/<uuid:public_id>/review", views.review_case, name="review"),
    path("cases/<uuid:public_id>/impression", views.record_case_impression, name="impression"),
    path("cases/<uuid:public_id>/amend", views.amend_case_review, name="amend"),
    path("cases/<uuid:public_id>/report", views.show_report, name="report"),
]
