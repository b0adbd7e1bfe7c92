"""A person's choice of notifications."""

import re

from django import forms
from django.utils.translation import gettext

from ..models import NotificationChoice

MOBILE_NUMBER = re.compile(r"^\+[1-9][0-9]{6,14}$")  # E.164


class NotificationChoiceForm(forms.ModelForm):
    class Meta:
        model = NotificationChoice
        fields = ["by_email", "by_sms", "phone", "on_duty"]

    def __init__(self, *args, user, radiologist: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["by_email"].help_text = gettext("To %(email)s.") % {"email": user.email} if user.email else (
            gettext("Your account has no email address: ask an administrator to add one."))
        self.fields["on_duty"].help_text = gettext("While ticked you are told of every urgent case of your clinics.")
        if not radiologist:
            del self.fields["on_duty"]

    def clean_phone(self):
        phone = re.sub(r"[\s()-]", "", self.cleaned_data["phone"])
        if phone and not MOBILE_NUMBER.match(phone):
            raise forms.ValidationError(gettext("Enter the number in international format, starting with + and the "
                                                "country code, e.g. +254712345678."))
        return phone

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("by_email") and not self.user.email:
            self.add_error("by_email", gettext("Your account has no email address: ask an administrator to add one."))
        if cleaned.get("by_sms") and not cleaned.get("phone") and "phone" not in self.errors:
            self.add_error("phone", gettext("Enter the mobile number the text messages go to."))
        return cleaned
