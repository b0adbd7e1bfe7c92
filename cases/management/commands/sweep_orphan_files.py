from django.core.management.base import BaseCommand
from django.utils.translation import gettext

from cases.storage.sweep import sweep_orphan_files


class Command(BaseCommand):
    help = ("Remove private storage files that no row refers to (case, prediction or DICOM result) and that are "
            "older than CXR_ORPHAN_GRACE_SECONDS (left by writes that never committed).")

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="count them, remove nothing")

    def handle(self, *args, **options):
        found = sweep_orphan_files(dry_run=options["dry_run"])
        values = {"count": found["orphans"], "bytes": found["bytes"]}
        if options["dry_run"]:
            self.stdout.write(gettext("would remove %(count)s files (%(bytes)s bytes)") % values)
        else:
            self.stdout.write(gettext("removed %(count)s files (%(bytes)s bytes)") % values)
