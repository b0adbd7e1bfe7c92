from django.urls import path

from .views import intake

app_name = "cases"

urlpatterns = [
    path("", intake.home, name="home"),
]
