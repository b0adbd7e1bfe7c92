from django.core.management.base import BaseCommand
from django.utils.translation import gettext, gettext_noop

from cases.classification.upkeep import requeue_stuck_cases


# What happened to each stuck case, as the summary names it (requeue_stuck_cases' keys).
OUTCOMES = {"submitted": gettext_noop("submitted"), "queued": gettext_noop("queued"),
            "classifying": gettext_noop("classifying"), "failed": gettext_noop("failed")}


class Command(BaseCommand):
    help = "Queue again the cases stuck before a prediction (the Celery beat reaper, run by hand)."

    def handle(self, *args, **options):
        counts = requeue_stuck_cases()
        self.stdout.write(", ".join(gettext("%(status)s: %(count)s") % {"status": gettext(OUTCOMES.get(status, status)),
                                                                       "count": count}
                                    for status, count in counts.items()))
