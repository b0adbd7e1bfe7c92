from django.urls import path

from . import views

urlpatterns = [
    path("cases/<uuid:public_id>/status", views.show_status, name="case_status"),
    path("cases/<uuid:public_id>/retry", views.retry_case, name="case_retry"),
]
