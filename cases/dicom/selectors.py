"""Reads for DICOM networking: which node is calling, where a clinic's results go, a case's results,
whether an audit event the listener wrote is still in the trail."""

from django.db.models import QuerySet

from ..models import AuditEvent, Case, DicomNode, DicomResult


def sending_node(*, ae_title: str, address: str) -> DicomNode | None:
    """The node allowed to send from this AE title and this address, or None (reject the association)."""
    return (DicomNode.objects.select_related("clinic")
            .filter(ae_title=ae_title.strip(), host=address, may_send=True).first())


def result_node(case: Case) -> DicomNode | None:
    """The clinic's node that takes results (the first by name if there are several)."""
    return case.clinic.dicom_nodes.filter(receives_results=True, port__isnull=False).order_by("name").first()


def results_of(case: Case) -> QuerySet[DicomResult]:
    return DicomResult.objects.filter(case=case).select_related("node", "review").order_by("-created", "-id")


def audit_event_recorded(event_id: int) -> bool:
    return AuditEvent.objects.filter(pk=event_id).exists()
