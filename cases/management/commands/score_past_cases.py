import socket

from django.core.management.base import BaseCommand, CommandError

from cases.audit.actors import Actor
from cases.classification.trials import past_cases_for, rescore_past_cases, score_with_trial
from classifier.models import ModelVersion


class Command(BaseCommand):
    help = ("Score the reviewed past cases with a version on silent trial, so its comparison has evidence "
            "at once. Queued for the workers; --now scores them in this process instead. Each case is scored "
            "once per version however often this runs.")

    def add_arguments(self, parser):
        parser.add_argument("version", help="name of the model version on trial")
        parser.add_argument("--now", action="store_true", help="score here, without the workers")

    def handle(self, *args, version, now, **options):
        trial = ModelVersion.objects.filter(name=version).first()
        if trial is None or not trial.on_trial or trial.active:
            raise CommandError(f"No version named {version!r} is on trial.")
        if not now:
            try:
                waiting = rescore_past_cases(version=trial, actor=Actor.system())
            except ConnectionError as error:
                raise CommandError(str(error)) from None
            self.stdout.write(f"{waiting} reviewed case(s) queued for scoring with {trial.name}.")
            return
        host = socket.gethostname()
        outcomes = [score_with_trial(case_id=pk, version_id=trial.pk, worker_host=host)
                    for pk in past_cases_for(trial).values_list("pk", flat=True)]
        self.stdout.write(f"{outcomes.count('predicted')} case(s) scored with {trial.name}, "
                          f"{outcomes.count('failed')} could not be.")
