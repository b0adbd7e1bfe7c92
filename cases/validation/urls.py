from django.urls import path

from . import views

urlpatterns = [
    path("validation/", views.show_validation, name="validation"),
    path("validation/<int:clinic_id>/", views.confirm_clinic, name="validation_clinic"),
    path("validation/<int:clinic_id>/reliability.png", views.draw_reliability, name="validation_reliability"),
]
