from django.urls import path

from .views import audit

app_name = "audit"

urlpatterns = [
    path("", audit.event_list, name="events"),
    path("export.csv", audit.export_csv, name="export"),
    path("cases/<uuid:public_id>/", audit.timeline, name="timeline"),
    path("oversight/", audit.oversight_dashboard, name="oversight"),
    path("oversight/chart.png", audit.oversight_chart, name="oversight_chart"),
]
