"""The new-case form written by hand (templates/cases/_case_fields.html) as users and screen readers
meet it: every field labelled, what was typed kept after an error, each error tied to its field, and
no template rendered per field (crispy-forms rendered ~95 a page, most of its CPU)."""

from dataclasses import dataclass, field
from datetime import date
from html.parser import HTMLParser

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cases.intake.forms import CaseForm
from cases.intake.services import StorageUnavailable
from cases.intake.views import STORAGE_DOWN
from cases.models import Clinic
from cxrsite.testing.dicoms import dicom_bytes
from cxrsite.testing.images import chest_like_array, png_bytes

NEW_CASE = reverse("cases:case_new")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
CONTROLS = {"input", "select", "textarea"}
# Typed by a user who makes several mistakes at once, with characters HTML must escape.
MISTAKES = {"mrn": "x" * 70, "age": "abc", "birth_year": "1700", "sex": "Z", "view": "XX", "symptoms": "<b>cough</b>",
            "onset_date": "2999-01-01", "spo2": "20", "notes": 'said "maybe" & left', "urgent": "on"}


@dataclass(eq=False)
class Element:
    tag: str
    attrs: dict
    parent: "Element | None"
    text: str = ""
    children: list = field(default_factory=list)

    def words(self) -> str:
        return " ".join(self.text.split())

    def is_inside(self, other: "Element") -> bool:
        parent = self.parent
        while parent is not None and parent is not other:
            parent = parent.parent
        return parent is other


class Page(HTMLParser):
    """A page's elements as the browser builds them: attributes unescaped, text with its descendants'."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.elements, self._open = [], []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        parent = self._open[-1] if self._open else None
        element = Element(tag, dict(attrs), parent)
        self.elements.append(element)
        if parent:
            parent.children.append(element)
        if tag not in VOID:
            self._open.append(element)

    def handle_endtag(self, tag):
        while self._open and self._open.pop().tag != tag:
            pass

    def handle_data(self, data):
        for element in self._open:
            element.text += data

    def all(self, tag: str | None = None, **attrs) -> list[Element]:
        return [e for e in self.elements if (tag is None or e.tag == tag)
                and all(e.attrs.get(name) == value for name, value in attrs.items())]

    def by_id(self, id_: str) -> Element | None:
        found = self.all(id=id_)
        assert len(found) <= 1, f"{len(found)} elements have id {id_}"
        return found[0] if found else None

    def control(self, name: str) -> Element:
        found = [e for e in self.all(name=name) if e.tag in CONTROLS]
        assert len(found) == 1, f"{len(found)} controls are named {name}"
        return found[0]

    def label_of(self, control: Element) -> str:
        labels = self.all("label", **{"for": control.attrs["id"]})
        assert len(labels) == 1, f"{len(labels)} labels are for #{control.attrs['id']}"
        return labels[0].words()

    def value_of(self, name: str):
        """What the browser shows in the control: its value, the chosen option, or whether it is ticked."""
        control = self.control(name)
        if control.tag == "select":
            return [o.attrs["value"] for o in control.children if o.tag == "option" and "selected" in o.attrs]
        if control.tag == "textarea":  # the browser drops one newline after the tag
            return control.text.removeprefix("\n")
        if control.attrs.get("type") == "checkbox":
            return "checked" in control.attrs
        return control.attrs.get("value")

    def description_of(self, control: Element) -> str:
        """What a screen reader reads after the field's name: the elements aria-describedby names."""
        texts = []
        for id_ in control.attrs.get("aria-describedby", "").split():
            described = self.by_id(id_)
            assert described is not None, f"aria-describedby names #{id_}, which is not on the page"
            texts.append(described.words())
        return " ".join(texts)


@pytest.fixture
def nurse(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def nurse_of_two_clinics(nurse, staff, other_clinic):
    other_clinic.members.add(staff)
    return nurse


def page_of(response) -> Page:
    return Page(response.content.decode())


def form_fields(user) -> dict:
    """The fields CaseForm has for this user, by name."""
    return {bound.name: bound for bound in CaseForm(clinics=user.clinics.all())}


def test_every_field_of_the_case_form_is_on_the_page_with_a_label_tied_to_it(nurse_of_two_clinics, staff):
    page = page_of(nurse_of_two_clinics.get(NEW_CASE))
    fields = form_fields(staff)
    in_page_order = [c.attrs["name"] for c in page.elements if c.tag in CONTROLS and c.attrs.get("name") in fields]
    assert in_page_order == list(fields)
    for name, bound in fields.items():
        control = page.control(name)
        assert control.attrs["id"] == f"id_{name}"
        expected = str(bound.label) + ("*" if bound.field.required else "")  # crispy's asterisk, kept
        assert page.label_of(control) == expected, name


def test_the_fields_read_their_help_text_and_the_required_ones_are_marked(nurse):
    page = page_of(nurse.get(NEW_CASE))
    assert page.description_of(page.control("mrn")) == "Leave blank to take it from a DICOM file."
    assert page.description_of(page.control("birth_year")) == "Age or birth year; either is enough."
    assert page.description_of(page.control("spo2")) == "If known."
    assert "aria-describedby" not in page.control("age").attrs
    assert page.label_of(page.control("sex")) == "Sex*" and page.label_of(page.control("age")) == "Age (years)"
    assert not page.all(**{"aria-invalid": "true"})


def test_the_inputs_carry_the_limits_the_form_checks(nurse):
    page = page_of(nurse.get(NEW_CASE))
    limits = {name: {a: page.control(name).attrs.get(a) for a in ("type", "maxlength", "min", "max")}
              for name in ("mrn", "age", "birth_year", "spo2", "onset_date")}
    assert limits == {
        "mrn": {"type": "text", "maxlength": "64", "min": None, "max": None},
        "age": {"type": "number", "maxlength": None, "min": "0", "max": "130"},
        "birth_year": {"type": "number", "maxlength": None, "min": "1880", "max": str(date.today().year)},
        "spo2": {"type": "number", "maxlength": None, "min": "50", "max": "100"},
        "onset_date": {"type": "text", "maxlength": None, "min": None, "max": None},  # ISO text: cases/dates.py
    }
    image = page.control("image")
    assert (image.attrs["type"], "required" in image.attrs) == ("file", True)
    # Only the file is `required`, as Django renders it: the selects' first options are real choices.
    assert [c.attrs["name"] for c in page.elements if "required" in c.attrs] == ["image"]
    assert page.value_of("sex") == ["U"] and page.value_of("view") == [""] and page.value_of("urgent") is False


def test_a_member_of_one_clinic_sends_it_in_a_hidden_field_the_server_ignores(nurse, clinic):
    page = page_of(nurse.get(NEW_CASE))
    hidden = page.control("clinic")
    assert hidden.tag == "input" and hidden.attrs["type"] == "hidden" and "disabled" in hidden.attrs
    assert hidden.attrs["value"] == str(clinic.pk) and not page.all("label", **{"for": "id_clinic"})


def test_a_member_of_several_clinics_chooses_one_from_a_select(nurse_of_two_clinics, clinic, other_clinic):
    page = page_of(nurse_of_two_clinics.get(NEW_CASE))
    options = [(o.attrs["value"], o.words()) for o in page.control("clinic").children]
    assert options == [(str(clinic.pk), clinic.name), (str(other_clinic.pk), other_clinic.name)]


def test_the_new_case_form_keeps_what_was_typed_after_an_error(nurse_of_two_clinics, staff):
    awkward = Clinic.objects.create(name='Kids <&> "Co"', code="kids")
    awkward.members.add(staff)
    typed = {"clinic": str(awkward.pk), "mrn": 'H-1 "<x>" & y', "age": "40", "birth_year": "1984", "sex": "M",
             "view": "AP", "symptoms": "\nstarts with a blank line", "onset_date": "2024-02-03", "spo2": "93",
             "notes": "</textarea><script>alert(1)</script>", "urgent": "on"}
    response = nurse_of_two_clinics.post(NEW_CASE, typed)  # no image: sent back
    html = response.content.decode()
    page = Page(html)
    assert page.control("image").attrs["aria-invalid"] == "true"
    shown = {name: page.value_of(name) for name in typed}
    assert shown == {**typed, "clinic": [str(awkward.pk)], "sex": ["M"], "view": ["AP"], "urgent": True}
    assert "<script>alert(1)" not in html and "<x>" not in html  # escaped, not markup
    assert [o.words() for o in page.control("clinic").children if "selected" in o.attrs] == ['Kids <&> "Co"']


def test_an_unticked_box_stays_unticked_after_an_error(nurse):
    page = page_of(nurse.post(NEW_CASE, {"sex": "F", "mrn": "H-2"}))
    assert page.value_of("urgent") is False and page.value_of("sex") == ["F"] and page.value_of("view") == [""]


def test_each_invalid_field_is_marked_and_names_its_error_text(nurse_of_two_clinics, staff):
    page = page_of(nurse_of_two_clinics.post(NEW_CASE, MISTAKES))
    form = CaseForm(MISTAKES, {}, clinics=staff.clinics.all())
    assert not form.is_valid() and len(form.errors) >= 8
    for name, bound in form_fields(staff).items():
        control = page.control(name)
        if name not in form.errors:
            assert "aria-invalid" not in control.attrs and "is-invalid" not in control.attrs["class"], name
            continue
        assert control.attrs["aria-invalid"] == "true" and "is-invalid" in control.attrs["class"].split(), name
        error = page.by_id(f"id_{name}_error")
        assert error.words() == " ".join(form.errors[name]), name
        help_text = f"{bound.help_text} " if bound.help_text else ""
        assert page.description_of(control) == help_text + error.words(), name


def test_the_error_summary_links_lead_to_the_invalid_fields(nurse):
    page = page_of(nurse.post(NEW_CASE, MISTAKES))
    summary = page.by_id("error-summary")
    targets = [link.attrs["href"] for link in page.all("a") if link.is_inside(summary)]
    assert targets and len(targets) == len(set(targets))
    for target in targets:
        field_ = page.by_id(target.removeprefix("#"))
        assert field_.tag in CONTROLS and field_.attrs["aria-invalid"] == "true", target


def test_a_dicom_that_contradicts_the_form_is_an_error_on_the_fields_it_contradicts(nurse):
    film = dicom_bytes(chest_like_array(256), patient_id="D-777", view_position="AP")
    page = page_of(nurse.post(NEW_CASE, {"mrn": "H-1001", "age": "40", "sex": "F", "view": "PA",
                                         "image": SimpleUploadedFile("chest.dcm", film)}))
    assert page.description_of(page.control("mrn")) == (
        "Leave blank to take it from a DICOM file. The DICOM file says the patient number is “D-777”, not “H-1001”. "
        "Check the form and the file.")
    assert page.description_of(page.control("view")) == (
        "The DICOM file says the view is “AP”, not “PA”. Check the form and the file.")
    assert page.value_of("mrn") == "H-1001" and page.value_of("view") == ["PA"]


def test_an_error_of_the_whole_form_is_an_alert_inside_it(nurse, monkeypatch):
    def storage_down(**kwargs):
        raise StorageUnavailable()

    monkeypatch.setattr("cases.intake.services.submit_case", storage_down)
    response = nurse.post(NEW_CASE, {"mrn": "H-3", "age": "40", "sex": "F", "view": "PA",
                                     "image": SimpleUploadedFile("chest.png", png_bytes(), content_type="image/png")})
    page = page_of(response)
    alerts = [e for e in page.all(role="alert") if e.parent.tag == "form"]
    assert response.status_code == 503 and [a.words() for a in alerts] == [STORAGE_DOWN]
    assert page.value_of("mrn") == "H-3"


def test_the_page_renders_no_template_per_field(nurse_of_two_clinics):
    empty = [t.name for t in nurse_of_two_clinics.get(NEW_CASE).templates]
    with_errors = [t.name for t in nurse_of_two_clinics.post(NEW_CASE, MISTAKES).templates]
    assert not [name for name in empty + with_errors if name.startswith(("bootstrap5/", "django/forms/"))]
    assert empty.count("cases/_case_fields.html") == 1
    assert with_errors == empty  # fields and errors add markup, never templates
