from django.db import models
from django.db.models import Q


class ModelVersion(models.Model):
    """A trained network the worker can serve. Exactly one is active at a time."""

    name = models.CharField(max_length=100, unique=True)
    architecture = models.CharField(max_length=40)
    file = models.CharField(max_length=500, help_text="Path of the model file on the worker machines")
    sha256 = models.CharField(max_length=64)
    metrics = models.JSONField(default=dict, blank=True)
    training_data = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    active = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created"]
        constraints = [models.UniqueConstraint(fields=["active"], condition=Q(active=True), name="one_active_model")]

    def __str__(self) -> str:
        return f"{self.name} ({self.architecture})"
