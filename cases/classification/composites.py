"""The film with the heatmap burned in: made once, on first need, and kept.

Only a flat picture needs it (the DICOM Secondary Capture, the printed report, the API's heatmap);
the review page's viewer draws the stored class map itself. The composite's column is listed by the
storage owner (cases/storage/columns.py), so the orphan sweep never removes it.
"""

from classifier.preprocessing import load_grayscale

from .. import storage
from ..intake.display import display_name_of
from ..models import Prediction
from ..storage.columns import discard
from .images import composite_png, is_class_map, read_class_map


def heatmap_composite(prediction: Prediction) -> str:
    """The storage name of the prediction's burned-in heatmap (the prediction must have a heatmap).

    1. Made already: its name. A prediction stored before issue 31 names the composite in
       `heatmap_name` (an RGB PNG): that one.
    2. Otherwise it is drawn from the display film and the class map, exactly as the worker drew it
       before, written, and claimed by compare-and-set on the empty column: when two requests race,
       the loser deletes its own file and uses the winner's.
    """
    if prediction.composite_name:
        return prediction.composite_name
    with storage.open_file(prediction.heatmap_name) as handle:
        stored = handle.read()
    if not is_class_map(stored):
        return prediction.heatmap_name
    with storage.open_file(display_name_of(prediction.case)) as handle:
        pixels = load_grayscale(handle.read())
    name = storage.save_bytes(composite_png(pixels, read_class_map(stored)), ".png")
    if not Prediction.objects.filter(pk=prediction.pk, composite_name="").update(composite_name=name):
        discard([name])
        prediction.refresh_from_db(fields=["composite_name"])
        return prediction.composite_name
    prediction.composite_name = name
    return name
