from django.urls import path

from . import views

urlpatterns = [
    path("oversight/", views.show_oversight, name="oversight"),
    path("oversight/clinics/", views.show_clinic_oversight, name="oversight_clinics"),
    path("oversight/operating-points/", views.show_operating_points, name="operating_points"),
    path("oversight/chart.png", views.draw_oversight_chart, name="oversight_chart"),
    path("models/<int:version_id>/activate", views.confirm_activation, name="confirm_activation"),
]
