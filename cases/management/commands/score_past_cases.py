import socket

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext

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
            raise CommandError(gettext("No version named %(name)r is on trial.") % {"name": version})
        if not now:
            try:
                waiting = rescore_past_cases(version=trial, actor=Actor.system())
            except ConnectionError as error:
                raise CommandError(str(error)) from None
            self.stdout.write(gettext("%(count)s reviewed case(s) queued for scoring with %(version)s.")
                              % {"count": waiting, "version": trial.name})
            return
        host = socket.gethostname()
        outcomes = [score_with_trial(case_id=pk, version_id=trial.pk, worker_host=host)
                    for pk in past_cases_for(trial).values_list("pk", flat=True)]
        self.stdout.write(gettext("%(scored)s case(s) scored with %(version)s, %(failed)s could not be.")
                          % {"scored": outcomes.count("predicted"), "version": trial.name,
                             "failed": outcomes.count("failed")})
