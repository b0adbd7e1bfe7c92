"""Each person chooses how they are told of results (and, radiologists, of urgent cases)."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods
from django.utils.translation import gettext

from ..access import can_review
from ..models import NotificationChoice
from .forms import NotificationChoiceForm


@require_http_methods(["GET", "POST"])
def choose_notifications(request):
    choice = NotificationChoice.objects.filter(user=request.user).first() or NotificationChoice(user=request.user)
    form = NotificationChoiceForm(request.POST or None, instance=choice, user=request.user,
                                  radiologist=can_review(request.user))
    if request.method == "POST" and form.is_valid():
        form.save()  # audited by the receiver for user changes (cases/audit/receivers.py)
        messages.success(request, gettext("Your notification choices are saved."))
        return redirect("cases:notifications")
    return render(request, "cases/notifications.html", {"form": form})
