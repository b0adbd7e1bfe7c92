"""Signals the classifier sends; the clinical app listens (classifier imports nothing from cases).

`model_activated(sender=ModelVersion, version, previous, user, evidence)` is sent inside the
transaction that switches the active version, so a receiver's audit row commits with it.
`rescoring_requested(sender=ModelVersion, version, user)` asks the clinical app to score its
reviewed past cases with a version on trial (the admin action; the app does the work).
"""

from django.dispatch import Signal

model_activated = Signal()
rescoring_requested = Signal()
