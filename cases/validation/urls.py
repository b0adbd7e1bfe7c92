from django.urls import path

from . import views

urlpatterns = [
    path("validation/", views.show_validation, name="validation"),
    path("validation/<int:clinic_id>/", views.confirm_clinic, name="validation_clinic"),
]
