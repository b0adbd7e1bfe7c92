"""The one interface every notification goes through: a channel knows a person's address and sends.

Email goes through Django's backend (CXR_EMAIL_BACKEND), text messages through the SMS backend
(sms.py). A message names the clinic and links to the case, nothing more: no patient number, name,
finding or image, whichever the channel (an SMS sits unencrypted on a phone and at the carrier).
"""

from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail

from ..models import Notification
from . import sms


@dataclass(frozen=True)
class Message:
    subject: str
    text: str


class EmailChannel:
    def address_of(self, user) -> str:
        return user.email

    def send(self, *, to: str, message: Message) -> None:
        send_mail(message.subject, message.text, settings.DEFAULT_FROM_EMAIL, [to], fail_silently=False)


class SmsChannel:
    def address_of(self, user) -> str:
        choice = getattr(user, "notification_choice", None)
        return choice.phone if choice is not None else ""

    def send(self, *, to: str, message: Message) -> None:
        sms.backend().send_messages([sms.TextMessage(to=to, text=message.text)])


CHANNELS = {Notification.Channel.EMAIL: EmailChannel(), Notification.Channel.SMS: SmsChannel()}
