import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cxrsite.settings")

app = Celery("cxrsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
