"""Who may open which intake page: every view, for every role, an outsider and the wrong method."""

from pathlib import Path

import pytest
from django.urls import reverse

import cxrsite.settings as project_settings
from cases.models import AuditEvent
from tests.factories import make_case, predict

ROLES_THAT_SEE_THE_CASE = ["staff", "radiologist", "administrator"]
OUTSIDERS = ["other_staff", "other_radiologist"]


@pytest.fixture
def case(clinic, staff):
    return make_case(clinic, staff, mrn="H-1001")


@pytest.fixture
def users(staff, other_staff, radiologist, other_radiologist, administrator):
    return {"staff": staff, "other_staff": other_staff, "radiologist": radiologist,
            "other_radiologist": other_radiologist, "administrator": administrator}


def case_urls(case) -> list[str]:
    return [reverse("cases:case_detail", args=[case.public_id])] + [
        reverse("cases:image", args=[case.public_id, kind]) for kind in ("display", "original")
    ]


@pytest.mark.parametrize("role", ROLES_THAT_SEE_THE_CASE)
def test_staff_of_the_clinic_its_radiologist_and_administrators_open_the_case_and_its_images(client, users, case, role):
    client.force_login(users[role])
    for url in case_urls(case):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("role", OUTSIDERS)
def test_another_clinics_staff_and_radiologists_get_404_for_the_case_and_its_images(client, users, case, role):
    client.force_login(users[role])
    for url in case_urls(case):
        assert client.get(url).status_code == 404, url
    assert AuditEvent.objects.filter(action="access_denied", case=case).count() == 3
    assert not AuditEvent.objects.filter(action="image_viewed").exists()


def test_a_case_that_does_not_exist_is_the_same_404_without_an_audit_row(client, other_staff, case):
    client.force_login(other_staff)
    assert client.get(reverse("cases:case_detail", args=["6f1c1f1e-0000-4000-8000-000000000000"])).status_code == 404
    assert not AuditEvent.objects.filter(action="access_denied").exists()


def test_anonymous_visitors_are_sent_to_the_login_page_from_every_page(client, case):
    urls = [reverse("cases:home"), reverse("cases:case_list"), reverse("cases:case_new"), *case_urls(case),
            reverse("cases:image", args=[case.public_id, "heatmap"])]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith(reverse("login") + "?next="), url


def test_the_wrong_http_method_is_refused_on_every_page(client, staff, case):
    client.force_login(staff)
    for url in [reverse("cases:home"), reverse("cases:case_list"), *case_urls(case)]:
        assert client.post(url).status_code == 405, url
    for method in (client.put, client.delete, client.patch):
        assert method(reverse("cases:case_new")).status_code == 405


def test_only_staff_may_open_the_new_case_form(client, users):
    expected = {"staff": 200, "other_staff": 200, "radiologist": 403, "other_radiologist": 403, "administrator": 403}
    for role, status in expected.items():
        client.force_login(users[role])
        assert client.get(reverse("cases:case_new")).status_code == status, role


def test_staff_without_a_clinic_are_told_why_they_cannot_submit(client, db):
    from cases.access import STAFF_GROUP
    from tests.conftest import make_user

    client.force_login(make_user("new_nurse", STAFF_GROUP))
    assert "You are not a member of any clinic yet" in client.get(reverse("cases:case_new")).content.decode()


@pytest.mark.parametrize(("role", "target"), [
    ("staff", "cases:case_list"), ("radiologist", "cases:worklist"), ("administrator", "cases:case_list"),
])
def test_home_sends_each_role_to_where_its_work_is(client, users, role, target):
    client.force_login(users[role])
    response = client.get(reverse("cases:home"))
    assert response.status_code == 302 and response.url == reverse(target)


def test_the_case_list_shows_each_user_only_the_clinics_they_may_see(client, users, case, other_clinic, other_staff):
    other_case = make_case(other_clinic, other_staff, mrn="R-2002")
    expected = {"staff": {"H-1001"}, "radiologist": {"H-1001"}, "other_staff": {"R-2002"},
                "other_radiologist": {"R-2002"}, "administrator": {"H-1001", "R-2002"}}
    for role, mrns in expected.items():
        client.force_login(users[role])
        listed = {c.patient.mrn for c in client.get(reverse("cases:case_list")).context["page"].object_list}
        assert listed == mrns, role
    assert other_case.clinic == other_clinic


def test_the_display_image_is_served_inline_privately_and_audited(client, staff, case):
    client.force_login(staff)
    response = client.get(reverse("cases:image", args=[case.public_id, "display"]))
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == f'inline; filename="case-{case.public_id}-display.png"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")
    event = AuditEvent.objects.get(action="image_viewed")
    assert (event.actor, event.case, event.details) == (staff, case, {"kind": "display"})


def test_the_original_is_downloaded_as_an_attachment(client, staff, case):
    client.force_login(staff)
    response = client.get(reverse("cases:image", args=[case.public_id, "original"]))
    assert response["Content-Disposition"].startswith("attachment;")


def test_the_heatmap_is_served_once_a_prediction_has_one(client, radiologist, case):
    client.force_login(radiologist)
    url = reverse("cases:image", args=[case.public_id, "heatmap"])
    assert client.get(url).status_code == 404
    predict(case)
    assert client.get(url).status_code == 200


def test_an_unknown_image_kind_is_404(client, staff, case):
    client.force_login(staff)
    assert client.get(reverse("cases:image", args=[case.public_id, "thumbnail"])).status_code == 404


def test_private_storage_is_outside_every_static_path():
    private = Path(project_settings.CXR_STORAGE_DIR).resolve()
    public = [Path(project_settings.STATIC_ROOT)] + [
        Path(d[1] if isinstance(d, tuple) else d) for d in project_settings.STATICFILES_DIRS
    ]
    assert all(not private.is_relative_to(p.resolve()) for p in public)


def test_refusals_are_explained_on_the_sites_own_pages(client, radiologist, other_staff, case):
    client.force_login(radiologist)
    assert "You do not have access to this page" in client.get(reverse("cases:case_new")).content.decode()
    client.force_login(other_staff)
    page = client.get(reverse("cases:case_detail", args=[case.public_id])).content.decode()
    assert "Page not found" in page and "H-1001" not in page


def pages_see(client, user, cases) -> dict[str, set]:
    """The cases each page shows this user, by public id."""
    client.force_login(user)
    seen = {"case page": {c.public_id for c in cases
                          if client.get(reverse("cases:case_detail", args=[c.public_id])).status_code == 200}}
    if user.has_perm("cases.view_case"):
        seen["case list"] = {c.public_id for c in client.get(reverse("cases:case_list")).context["page"]}
    if user.has_perm("cases.add_review"):
        page = client.get(reverse("cases:worklist"), {"status": "all"}).context["page"]
        seen["worklist"] = {c.public_id for c in page}
    if user.is_staff:
        changelist = client.get(reverse("admin:cases_case_changelist")).context["cl"]
        seen["admin"] = {c.public_id for c in changelist.result_list}
    return seen


def test_every_page_and_the_admin_show_a_user_the_same_cases_as_the_one_queryset(
        client, clinic, other_clinic, staff, other_staff, radiologist, administrator):
    from cases.models import Case
    from tests.conftest import make_user
    from cases.access import RADIOLOGIST_GROUP

    both = make_user("both_clinics", RADIOLOGIST_GROUP, clinic, other_clinic)
    cases = [make_case(clinic, staff, mrn=f"H-{n}") for n in range(3)]
    cases += [make_case(other_clinic, other_staff, mrn=f"R-{n}") for n in range(2)]
    expected = {staff: set(cases[:3]), other_staff: set(cases[3:]), radiologist: set(cases[:3]),
                both: set(cases), administrator: set(cases)}
    for user, visible in expected.items():
        ids = {c.public_id for c in visible}
        assert {c.public_id for c in Case.objects.visible_to(user)} == ids, user
        for page, seen in pages_see(client, user, cases).items():
            assert seen == ids, (user.username, page)
