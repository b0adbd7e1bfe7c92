from django.urls import path

from . import views

urlpatterns = [
    path("cases/<uuid:public_id>/details", views.complete_case_details, name="case_complete"),
    path("cases/<uuid:public_id>/dicom/<int:result_id>/<slug:kind>", views.download_result, name="dicom_result"),
]
