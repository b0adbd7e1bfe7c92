from django.urls import path

from . import views

urlpatterns = [
    path("account/notifications/", views.choose_notifications, name="notifications"),
]
