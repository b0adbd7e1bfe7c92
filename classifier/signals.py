"""Signals the classifier sends; the clinical app listens (classifier imports nothing from cases).

`model_activated(sender=ModelVersion, version, previous, user)` is sent inside the
transaction that switches the active version, so a receiver's audit row commits with it.
"""

from django.dispatch import Signal

model_activated = Signal()
