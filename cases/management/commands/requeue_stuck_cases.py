from django.core.management.base import BaseCommand

from cases.classification.upkeep import requeue_stuck_cases


class Command(BaseCommand):
    help = "Queue again the cases stuck before a prediction (the Celery beat reaper, run by hand)."

    def handle(self, *args, **options):
        counts = requeue_stuck_cases()
        self.stdout.write(", ".join(f"{status}: {count}" for status, count in counts.items()))
