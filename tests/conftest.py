"""Shared fixtures: two clinics, a user of each role, and private storage in a temp folder."""

import pytest
from django.contrib.auth.models import Group, User

from cases.access import ADMIN_GROUP, RADIOLOGIST_GROUP, STAFF_GROUP
from cases.roles import CLINIC_AUDITOR_GROUP
from cases.models import Clinic
from cxrsite.testing.images import write_synthetic_dataset

PASSWORD = "correct-horse-battery-9"


@pytest.fixture(autouse=True)
def _private_storage(settings, tmp_path):
    settings.CXR_STORAGE_DIR = tmp_path / "private"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # The hashed-name manifest exists only after collectstatic; tests render pages without it.
    settings.STORAGES = {**settings.STORAGES,
                         "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}


@pytest.fixture(autouse=True)
def _clinics_live(request):
    """Suggestions visible, as before local validation: every clinic is live for every model version, as
    they are created. A test marked `local_validation` gets production's start instead (silent)."""
    if request.node.get_closest_marker("local_validation"):
        yield
        return
    from django.db.models.signals import post_save

    from cases.models import ClinicAIState
    from classifier.models import ModelVersion

    def make_live(sender, instance, created, **kwargs):
        if not created:
            return
        clinics = [instance] if sender is Clinic else Clinic.objects.all()
        versions = [instance] if sender is ModelVersion else ModelVersion.objects.all()
        ClinicAIState.objects.bulk_create(
            [ClinicAIState(clinic=clinic, model_version=version, state=ClinicAIState.State.LIVE)
             for clinic in clinics for version in versions], ignore_conflicts=True)

    if "stack" in request.fixturenames:
        # A real worker registers the served version in its own process, where the receiver is not connected:
        # before a case is sent to it, the served version is registered here and every clinic made live for it.
        from cases import queue
        from classifier.registry import served_version

        publish = queue.publish

        def publish_to_live_clinics(task, *args, **kwargs):
            if task == queue.CLASSIFY_TASK:
                make_live(ModelVersion, served_version(), created=True)
            return publish(task, *args, **kwargs)

        monkeypatch = request.getfixturevalue("monkeypatch")
        monkeypatch.setattr(queue, "publish", publish_to_live_clinics)

    for sender in (Clinic, ModelVersion):
        post_save.connect(make_live, sender=sender, dispatch_uid=f"test-live-{sender.__name__}")
    try:
        yield
    finally:
        for sender in (Clinic, ModelVersion):
            post_save.disconnect(sender=sender, dispatch_uid=f"test-live-{sender.__name__}")


def make_user(username: str, group: str, *clinics: Clinic, is_staff: bool = False) -> User:
    user = User.objects.create_user(username=username, password=PASSWORD, is_staff=is_staff)
    user.groups.add(Group.objects.get(name=group))
    for clinic in clinics:
        clinic.members.add(user)
    return user


@pytest.fixture
def clinic(db):
    return Clinic.objects.create(name="Hillside Clinic", code="hillside")


@pytest.fixture
def other_clinic(db):
    return Clinic.objects.create(name="Riverside Clinic", code="riverside")


@pytest.fixture
def staff(clinic):
    return make_user("nurse", STAFF_GROUP, clinic)


@pytest.fixture
def other_staff(other_clinic):
    return make_user("outsider", STAFF_GROUP, other_clinic)


@pytest.fixture
def radiologist(clinic):
    return make_user("radiologist", RADIOLOGIST_GROUP, clinic)


@pytest.fixture
def other_radiologist(other_clinic):
    return make_user("other_radiologist", RADIOLOGIST_GROUP, other_clinic)


@pytest.fixture
def administrator(db):
    return make_user("administrator", ADMIN_GROUP, is_staff=True)


@pytest.fixture(scope="module")
def stack(django_db_setup):
    """A real Redis and a real worker process, shared by one test module (cxrsite/testing/stack.py)."""
    from cxrsite.testing.stack import running_stack

    with running_stack() as running:
        yield running


@pytest.fixture
def worker_storage(_private_storage, settings, stack):
    # The worker reads the images the test process stores: one folder for both.
    settings.CXR_STORAGE_DIR = stack.storage_dir
    return stack


@pytest.fixture(scope="session")
def synthetic_dataset(tmp_path_factory):
    """A small dataset folder shaped like ../shared/datasets/cxr, for training tests anywhere."""
    return write_synthetic_dataset(tmp_path_factory.mktemp("cxr"))


def require_shared(path, what: str = "the shared dataset") -> None:
    """Tests on ../shared: in CI a missing folder is a failure; elsewhere the test is skipped."""
    import os
    from pathlib import Path

    if not Path(path).exists():
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide {what} at {path}")
        pytest.skip(f"needs {what} at {path}")


@pytest.fixture
def one_clinic_auditor(clinic):
    """A clinic auditor: the audit pages, oversight and validation of one clinic only (not every clinic, as
    administrators). The role is one of cases.roles.ROLES, as an administrator assigns it in the admin."""
    return make_user("clinic_auditor", CLINIC_AUDITOR_GROUP, clinic)
