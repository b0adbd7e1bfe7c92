"""Who is told what: the clinic's staff of its results, the radiologists on duty of its urgent cases."""

from django.contrib.auth.models import Permission, User
from django.db.models import Q, QuerySet

from ..models import Case, Notification, NotificationChoice

Channel = Notification.Channel


def holders_of(codename: str, case: Case) -> QuerySet[User]:
    """Active members of the case's clinic whose role (or own permissions) grants `cases.<codename>`."""
    permission = Permission.objects.get(content_type__app_label="cases", codename=codename)
    return (User.objects.filter(is_active=True, clinics=case.clinic_id)
            .filter(Q(groups__permissions=permission) | Q(user_permissions=permission))
            .select_related("notification_choice").distinct())


def staff_of(case: Case) -> QuerySet[User]:
    """The clinic's staff: those who submit its cases."""
    return holders_of("add_case", case)


def radiologists_on_duty(case: Case) -> QuerySet[User]:
    return holders_of("add_review", case).filter(notification_choice__on_duty=True)


def chosen_channels(user) -> list[str]:
    try:
        choice = user.notification_choice
    except NotificationChoice.DoesNotExist:
        return []
    return [channel for channel, wanted in ((Channel.EMAIL, choice.by_email), (Channel.SMS, choice.by_sms)) if wanted]
