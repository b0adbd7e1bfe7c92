"""The admin site: administrators manage clinics, users and roles; clinical records stay as recorded."""

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from cases.access import ADMIN_GROUP, RADIOLOGIST_GROUP
from cases.models import Case, Clinic
from tests.factories import make_case, predict


@pytest.fixture
def admin_client(client, administrator):
    client.force_login(administrator)
    return client


@pytest.fixture
def superuser_client(client, db):
    client.force_login(User.objects.create_superuser("root", password="violet-harbour-lantern-42"))
    return client


def post_case_change(client, case, **fields):
    """Post the case's admin form as a browser would, with the inline formsets' management data."""
    url = reverse("admin:cases_case_change", args=[case.pk])
    page = client.get(url)
    data = dict(fields)
    for inline in page.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data.update({f"{management.prefix}-{name}": value for name, value in management.initial.items()})
    return client.post(url, data)


def test_administrators_add_a_clinic_with_its_members(admin_client, staff, radiologist):
    response = admin_client.post(reverse("admin:cases_clinic_add"), {
        "name": "Lakeside Clinic", "code": "lakeside", "members": [staff.pk, radiologist.pk],
    })
    assert response.status_code == 302
    assert set(Clinic.objects.get(code="lakeside").members.all()) == {staff, radiologist}


def test_administrators_change_a_clinics_members(admin_client, clinic, staff, other_staff):
    admin_client.post(reverse("admin:cases_clinic_change", args=[clinic.pk]), {
        "name": clinic.name, "code": clinic.code, "members": [other_staff.pk],
    })
    assert list(clinic.members.all()) == [other_staff]


def test_administrators_give_a_user_a_role(admin_client, staff):
    url = reverse("admin:auth_user_change", args=[staff.pk])
    form = admin_client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k not in ("password", "user_permissions")}
    data.update(groups=[Group.objects.get(name=RADIOLOGIST_GROUP).pk], date_joined_0="2026-01-01",
                date_joined_1="00:00:00", is_active="on")
    assert admin_client.post(url, data).status_code == 302
    assert list(staff.groups.values_list("name", flat=True)) == [RADIOLOGIST_GROUP]


def test_a_user_given_the_administrator_role_can_use_the_admin_site(superuser_client, client, staff):
    url = reverse("admin:auth_user_change", args=[staff.pk])
    form = superuser_client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k not in ("password", "user_permissions")}
    data.update(groups=[Group.objects.get(name=ADMIN_GROUP).pk], date_joined_0="2026-01-01",
                date_joined_1="00:00:00", is_active="on")
    superuser_client.post(url, data)
    staff.refresh_from_db()
    assert staff.is_staff
    client.force_login(staff)
    assert client.get(reverse("admin:cases_clinic_changelist")).status_code == 200


def test_administrators_see_cases_and_patients_but_cannot_change_or_delete_them(admin_client, clinic, staff):
    case = make_case(clinic, staff)
    assert admin_client.get(reverse("admin:cases_case_changelist")).status_code == 200
    page = admin_client.get(reverse("admin:cases_case_change", args=[case.pk]))
    assert page.status_code == 200 and case.image_sha256 in page.content.decode()
    assert post_case_change(admin_client, case, notes="rewritten").status_code == 403
    assert admin_client.post(reverse("admin:cases_case_delete", args=[case.pk]), {"post": "yes"}).status_code == 403
    case.refresh_from_db()
    assert case.notes == "" and Case.objects.filter(pk=case.pk).exists()
    assert admin_client.get(reverse("admin:cases_patient_change", args=[case.patient.pk])).status_code == 200


def test_even_a_superuser_cannot_change_a_cases_image_hash_or_status(superuser_client, clinic, staff):
    case = make_case(clinic, staff)
    form = superuser_client.get(reverse("admin:cases_case_change", args=[case.pk])).context["adminform"].form
    assert set(form.fields) == {"notes", "urgent"}
    response = post_case_change(superuser_client, case, notes="called the patient back", status="reviewed",
                                image_sha256="0" * 64)
    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.notes, case.status, case.image_sha256) == ("called the patient back", "submitted", "a" * 64)
    assert superuser_client.get(reverse("admin:cases_case_delete", args=[case.pk])).status_code == 403
    assert superuser_client.get(reverse("admin:cases_case_add")).status_code == 403


def test_predictions_and_reviews_are_read_only_for_superusers_too(superuser_client, clinic, staff):
    prediction = predict(make_case(clinic, staff))
    page = superuser_client.get(reverse("admin:cases_prediction_change", args=[prediction.pk]))
    assert page.status_code == 200 and not page.context["adminform"].form.fields
    assert superuser_client.get(reverse("admin:cases_prediction_delete", args=[prediction.pk])).status_code == 403
    assert superuser_client.get(reverse("admin:cases_review_add")).status_code == 403


def test_clinic_staff_cannot_enter_the_admin_site(client, staff):
    client.force_login(staff)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and "/admin/login/" in response.url


def user_change_data(client, user, **changes) -> dict:
    form = client.get(reverse("admin:auth_user_change", args=[user.pk])).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k not in ("password", "user_permissions")}
    data.update(date_joined_0="2026-01-01", date_joined_1="00:00:00", is_active="on",
                groups=list(user.groups.values_list("pk", flat=True)), **changes)
    return data


def test_an_administrator_cannot_grant_superuser_staff_status_or_raw_permissions(admin_client, staff, other_clinic):
    from django.contrib.auth.models import Permission

    audit = Permission.objects.get(codename="view_auditevent")
    url = reverse("admin:auth_user_change", args=[staff.pk])
    form = admin_client.get(url).context["adminform"].form
    assert not {"is_superuser", "is_staff", "user_permissions"} & set(form.fields)
    data = user_change_data(admin_client, staff, is_superuser="on", is_staff="on", user_permissions=[audit.pk])
    assert admin_client.post(url, data).status_code == 302
    staff.refresh_from_db()
    assert (staff.is_superuser, staff.is_staff, list(staff.user_permissions.all())) == (False, False, [])
    assert not staff.has_perm("cases.view_auditevent")


def test_an_administrator_sees_a_superusers_account_read_only_and_cannot_change_or_delete_it(admin_client):
    root = User.objects.create_superuser("root2", password="a-long-root-password-9")
    url = reverse("admin:auth_user_change", args=[root.pk])
    page = admin_client.get(url)
    assert page.status_code == 200 and page.context["has_change_permission"] is False  # shown read-only
    assert admin_client.post(url, {"username": "taken-over", "is_active": ""}).status_code == 403
    root.refresh_from_db()
    assert (root.username, root.is_active, root.is_superuser) == ("root2", True, True)
    assert admin_client.post(reverse("admin:auth_user_delete", args=[root.pk]), {"post": "yes"}).status_code == 403


def test_a_superuser_can_still_grant_superuser_status(superuser_client, staff):
    url = reverse("admin:auth_user_change", args=[staff.pk])
    assert superuser_client.post(url, user_change_data(superuser_client, staff, is_superuser="on")).status_code == 302
    staff.refresh_from_db()
    assert staff.is_superuser


def test_the_user_forms_split_date_and_time_inputs_each_have_a_label(admin_client, staff):
    page = admin_client.get(reverse("admin:auth_user_change", args=[staff.pk])).content.decode()
    for field in ("last_login", "date_joined"):
        assert f'<label for="id_{field}_0">Date:</label>' in page, field
        assert f'<label for="id_{field}_1">Time:</label>' in page, field
