"""Roles are groups with permissions, present after migrate and after a flush."""

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from cases.access import can_audit, can_review, can_submit, clinics_for, sees_all_clinics
from cases.roles import ADMIN_GROUP, CLINIC_AUDITOR_GROUP, RADIOLOGIST_GROUP, STAFF_GROUP


def test_staff_may_submit_but_not_review_or_audit(staff):
    assert (can_submit(staff), can_review(staff), can_audit(staff), sees_all_clinics(staff)) == (
        True, False, False, False)


def test_radiologists_may_review_but_not_submit_or_audit(radiologist):
    assert (can_submit(radiologist), can_review(radiologist), can_audit(radiologist)) == (False, True, False)


def test_administrators_audit_and_see_every_clinic_but_do_not_review(administrator):
    assert (can_audit(administrator), sees_all_clinics(administrator), can_review(administrator)) == (
        True, True, False)


def test_a_clinic_auditor_audits_one_clinic_but_neither_submits_nor_reviews(one_clinic_auditor, clinic):
    assert (can_audit(one_clinic_auditor), sees_all_clinics(one_clinic_auditor), can_review(one_clinic_auditor),
            can_submit(one_clinic_auditor)) == (True, False, False, False)
    assert list(clinics_for(one_clinic_auditor)) == [clinic]


@pytest.mark.django_db(transaction=True)
def test_the_roles_come_back_after_the_database_is_flushed():
    call_command("flush", interactive=False, verbosity=0)
    assert set(Group.objects.values_list("name", flat=True)) == {STAFF_GROUP, RADIOLOGIST_GROUP, ADMIN_GROUP,
                                                                 CLINIC_AUDITOR_GROUP}
    assert Group.objects.get(name=STAFF_GROUP).permissions.filter(codename="add_case").exists()
