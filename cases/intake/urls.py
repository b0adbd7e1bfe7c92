from django.contrib.auth.decorators import login_not_required
from django.urls import path

from . import tus, views

urlpatterns = [
    path("", views.show_home, name="home"),
    path("cases/", views.list_cases, name="case_list"),
    path("cases/new/", views.new_case, name="case_new"),
    path("cases/outbox/", views.show_outbox, name="outbox"),
    path("cases/offline-worker.js", views.offline_worker, name="offline_worker"),
    path("cases/<uuid:public_id>/", views.show_case, name="case_detail"),
    path("cases/<uuid:public_id>/image/<slug:kind>", views.show_image, name="image"),
    path("cases/<uuid:public_id>/withdraw", views.withdraw_refused_case, name="withdraw"),
    path("cases/<uuid:public_id>/replace-image", views.replace_refused_image, name="replace_image"),
    # tus: a token or a session, answered by the views themselves (a 401, never the login page).
    path("uploads/", login_not_required(tus.UploadsView.as_view()), name="uploads"),
    path("uploads/<uuid:public_id>", login_not_required(tus.UploadView.as_view()), name="upload"),
]
