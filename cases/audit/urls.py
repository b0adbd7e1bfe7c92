from django.urls import path

from . import views

urlpatterns = [
    path("", views.list_events, name="events"),
    path("export.csv", views.export_csv, name="export"),
    path("cases/<uuid:public_id>/", views.show_timeline, name="timeline"),
]
