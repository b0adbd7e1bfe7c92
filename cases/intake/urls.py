from django.urls import path

from . import views

urlpatterns = [
    path("", views.show_home, name="home"),
    path("cases/", views.list_cases, name="case_list"),
    path("cases/new/", views.new_case, name="case_new"),
    path("cases/<uuid:public_id>/", views.show_case, name="case_detail"),
    path("cases/<uuid:public_id>/image/<slug:kind>", views.show_image, name="image"),
    path("cases/<uuid:public_id>/withdraw", views.withdraw_refused_case, name="withdraw"),
    path("cases/<uuid:public_id>/replace-image", views.replace_refused_image, name="replace_image"),
]
