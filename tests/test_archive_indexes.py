"""Archive scale (issue 31): each large page's main query has an index to read, in the database itself.

Plans on a small test database say little about a million cases (the planner rightly reads a few
hundred rows whole), so this asserts the indexes exist with the columns the queries filter and sort
on; bench/pages.py writes each page's plan at 1,000,000 cases beside its figures.
"""

import pytest
from django.db import connection

from cases.models import PATIENT_EDIT_ACTIONS, AuditEvent, Case, Patient

pytestmark = pytest.mark.django_db


def indexes(model) -> dict[str, dict]:
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, model._meta.db_table)
    return {name: found[name] for name in found if found[name]["index"]}


def test_the_worklist_has_its_filter_index_and_its_whole_order_index():
    found = indexes(Case)
    assert found["case_worklist"]["columns"] == ["status", "clinic_id", "predicted_label", "covid_priority",
                                                  "urgent", "created"]
    assert "case_worklist_priority" in found  # covid priority (stored at write time, issue 26) first, urgent, oldest, id


def test_the_case_list_sorts_by_an_index_and_finds_a_patients_cases_by_one():
    found = indexes(Case)
    assert any(index["columns"] == ["created"] for index in found.values())
    assert any(index["columns"] == ["patient_id"] for index in found.values())


def test_the_patient_number_search_has_a_trigram_index_on_postgresql_and_sqlite_none_it_cannot_use():
    found = indexes(Patient)
    trigram = found.get("patient_mrn_key_trgm")
    if connection.vendor == "postgresql":
        assert trigram is not None and trigram["columns"] == ["mrn_key"] and trigram["type"] == "gin"
    else:
        assert trigram is None  # a substring match (LIKE '%...%') reads no B-tree: nothing is built


def test_the_audit_trail_filtered_by_user_and_date_has_an_index_for_each_way_a_user_is_named():
    found = indexes(AuditEvent)
    assert found["auditevent_actor_label_time"]["columns"] == ["actor_label", "time"]
    assert found["auditevent_actor_label_time"]["orders"] == ["ASC", "DESC"]
    assert any(index["columns"] == ["actor_id"] for index in found.values())
    assert "auditevent_actor_label" not in found  # replaced: its column leads the new one


def test_a_case_timeline_has_the_case_index_and_a_partial_index_for_the_patients_edits():
    found = indexes(AuditEvent)
    assert any(index["columns"] == ["case_id"] for index in found.values())
    assert "auditevent_patient_edits" in found
    assert set(PATIENT_EDIT_ACTIONS) == {AuditEvent.Action.CASE_EDITED, AuditEvent.Action.HISTORY_IMPORTED}
