"""Issue 18 evidence and augmentation: within-source AUCs, normals by view and age, heatmap
border share, the marker test, and cue augmentation that draws on every class but never at serving."""

import csv
import subprocess
import sys

import numpy as np
import pytest

from classifier.labels import LABELS
from classifier.preprocessing import load_grayscale, to_model_input
from classifier.training.augmentation import augment_cues, draw_marker, reacquire, reframe
from classifier.training.data import Record, read_records
from classifier.training.shortcut_checks import (
    age_band_of, film_attributes, heatmap_mass, normals_by, paste_marker, view_of, within_source_aucs,
)
from classifier.training.data import split_records
from classifier.training.train import add_extra_data

COVID, NORMAL, VIRAL = (LABELS.index(label) for label in ("covid", "normal", "viral_pneumonia"))


def probabilities_with(scores: list[float], column: int, other: int) -> np.ndarray:
    """Rows where `column` gets the score and `other` the rest; the third class gets nothing."""
    probabilities = np.zeros((len(scores), 3))
    probabilities[:, column] = scores
    probabilities[:, other] = 1 - np.asarray(scores)
    return probabilities


def test_within_source_auc_compares_two_classes_of_one_source_only():
    # radiography_db: COVID-19 films score 0.9, 0.6; normals 0.7, 0.2 -> 3 of 4 pairs ranked right.
    y = np.array([COVID, COVID, NORMAL, NORMAL, NORMAL, VIRAL])
    probabilities = probabilities_with([0.9, 0.6, 0.7, 0.2, 0.0, 0.0], COVID, NORMAL)
    # mooney_a: its normal film p(normal) 0.2, p(viral) 0.8; its viral film the other way round.
    probabilities[4] = [0.0, 0.2, 0.8]
    probabilities[5] = [0.0, 0.8, 0.2]
    sources = ["radiography_db"] * 4 + ["mooney_a", "mooney_a"]
    aucs = within_source_aucs(y, probabilities, sources)
    assert aucs["radiography_db"] == {"covid_vs_normal": {"n": 4, "auc": pytest.approx(0.75)}}
    assert aucs["mooney_a"] == {"normal_vs_viral_pneumonia": {"n": 2, "auc": 0.0}}  # ranked wrong


def test_within_source_auc_leaves_out_a_source_of_one_class():
    y = np.array([COVID, COVID])
    assert within_source_aucs(y, probabilities_with([0.9, 0.8], COVID, NORMAL), ["cohen", "cohen"]) == {}


def test_normals_by_group_give_the_share_called_normal_and_called_covid():
    y = np.array([NORMAL, NORMAL, NORMAL, NORMAL, COVID])
    predicted = np.array([COVID, NORMAL, NORMAL, VIRAL, COVID])
    views = ["AP", "AP", "PA", "PA", "AP"]
    result = normals_by(y, predicted, views)
    assert result["AP"] == {"n": 2, "called_normal": 0.5, "called_covid": 0.5,
                            "predicted": {"covid": 1, "normal": 1, "viral_pneumonia": 0}}
    assert result["PA"]["called_normal"] == 0.5 and result["PA"]["called_covid"] == 0.0


def test_view_and_age_come_from_the_manifest_of_the_films_own_folder(tmp_path):
    folder = tmp_path / "extra"
    (folder / "normal").mkdir(parents=True)
    with (folder / "manifest.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["file", "label", "source", "group", "view", "age"])
        writer.writeheader()
        writer.writerow({"file": "normal/a.png", "label": "normal", "source": "nih_cxr14", "group": "nih:1",
                         "view": "AP", "age": "63"})
    # A film of a combined split is named by its absolute path; the data folder is another one.
    attributes = film_attributes(tmp_path / "cxr", Record(str(folder / "normal/a.png"), "normal", "nih_cxr14", "nih:1"))
    assert view_of(attributes) == "AP" and age_band_of(attributes, "nih_cxr14") == "60+"
    assert view_of({"view": "AP Supine"}) == "AP" and view_of({}) == "unknown"
    assert age_band_of({"age": "25"}, "nih_cxr14") == "18-39"
    assert age_band_of({}, "mooney_b") == "child"
    assert age_band_of({}, "radiography_db") == "adult (age unknown)"


def test_heatmap_mass_measures_the_border_and_the_top_band():
    size = 160
    top = np.zeros((1, 10, 10, 3))
    top[0, 0, :, COVID] = 1.0  # all of the covid map in its top row
    centre = np.zeros((1, 10, 10, 3))
    centre[0, 4:6, 4:6, COVID] = 1.0
    high = heatmap_mass(top, np.array([COVID]), size)
    low = heatmap_mass(centre, np.array([COVID]), size)
    assert high["top_band_share"] > 0.6 and high["border_share"] > 0.6
    assert low["border_share"] < 0.05 and low["top_band_share"] == 0.0
    assert high["uniform_border"] == pytest.approx(1 - 0.8 ** 2)


def test_the_test_marker_changes_only_the_top_left_corner():
    film = np.full((256, 256), 90, dtype=np.uint8)
    marked = paste_marker(film)
    changed = np.argwhere(marked != film)
    assert len(changed) > 50
    assert changed.max(axis=0).tolist() <= [64, 64]
    assert np.array_equal(paste_marker(film), marked)  # the same marker every time


@pytest.fixture
def films_of_each_class(synthetic_dataset):
    records = read_records(synthetic_dataset)
    return {label: to_model_input(load_grayscale(synthetic_dataset / next(r.file for r in records if r.label == label)),
                                  64) for label in LABELS}


def test_cue_augmentation_draws_markers_on_films_of_every_class(films_of_each_class):
    rng = np.random.default_rng(1)
    for label, film in films_of_each_class.items():
        drawn = augment_cues(film, rng, p_marker=1.0, p_text=0.0, p_annotation=0.0, p_frame=0.0, p_acquisition=0.0)
        changed = np.abs(drawn - film) > 0.05
        assert drawn.shape == film.shape and drawn.dtype == np.float32
        assert 0 < changed.mean() < 0.2, label  # a marker: a few pixels, not the film


def test_cue_augmentation_takes_no_label():
    # Nothing in it can depend on the class: it is given the pixels and a random generator only.
    import inspect

    assert list(inspect.signature(augment_cues).parameters)[:2] == ["x", "rng"]
    assert "label" not in inspect.signature(augment_cues).parameters


def test_frames_and_acquisition_keep_the_size_and_range(films_of_each_class):
    rng = np.random.default_rng(2)
    pixels = np.rint(films_of_each_class["normal"][:, :, 0] * 255).astype(np.uint8)
    for _ in range(20):
        for change in (reframe, reacquire):
            out = change(pixels, rng)
            assert out.shape == pixels.shape and out.dtype == np.uint8


def test_draw_marker_draws_the_letter_where_asked():
    from PIL import Image

    image = Image.fromarray(np.zeros((100, 100), dtype=np.uint8))
    marked = np.asarray(draw_marker(image, np.random.default_rng(0), letter="R", style="circle", shade=255,
                                    size=10, xy=(60, 60)))
    assert marked[:60].max() == 0 and marked[:, :60].max() == 0 and marked.max() == 255


def test_serving_never_imports_the_augmentation(tmp_path):
    # The worker's path: classify pixels with the committed model; cue drawing must not be loaded.
    from classifier.artifacts import COMMITTED_MODEL

    script = ("import sys, numpy as np\n"
              "from classifier.inference import classify\n"
              f"classify(np.full((200, 180), 120, np.uint8), model_path={str(COMMITTED_MODEL)!r})\n"
              "assert 'classifier.training.augmentation' not in sys.modules, 'serving loaded the augmentation'\n")
    subprocess.run([sys.executable, "-c", script], check=True, cwd=str(COMMITTED_MODEL.parents[2]))


def test_extra_data_is_split_by_its_own_groups_into_every_split(synthetic_dataset, tmp_path):
    base = split_records(read_records(synthetic_dataset), seed=1)
    combined = add_extra_data(base, synthetic_dataset.resolve(), seed=1)  # the same films as "another" folder
    extra = {name: [r for r in records if r.file.startswith("/")] for name, records in combined.items()}
    assert all(extra[name] for name in ("train", "val", "test"))
    groups = {name: {r.group for r in records} for name, records in extra.items()}
    assert not (groups["train"] & groups["val"]) and not (groups["train"] & groups["test"])
    with pytest.raises(ValueError, match="already holds"):
        add_extra_data(combined, synthetic_dataset.resolve(), seed=1)


def changed_share_by_class(synthetic_dataset, *, cue_augmentation: bool) -> dict[str, float]:
    """Share of each class's films that come out of the training pipeline altered (Keras jitter off)."""
    import dataclasses

    import keras

    from classifier.training.data import load_arrays
    from classifier.training.networks import get_architecture
    from classifier.training.train import _training_dataset

    x, y = load_arrays(synthetic_dataset, read_records(synthetic_dataset), 32)
    plain = dataclasses.replace(get_architecture("tiny"), augmentation=lambda: [keras.layers.Identity()])
    changed = {label: [] for label in LABELS}
    for images, labels in _training_dataset(x, y, plain, seed=5, cue_augmentation=cue_augmentation):
        for image, label in zip(images.numpy(), labels.numpy()):
            nearest = np.abs(x[y == label] - image).reshape(int((y == label).sum()), -1).max(axis=1).min()
            changed[LABELS[label]].append(nearest > 0)
    return {label: float(np.mean(flags)) for label, flags in changed.items()}


def test_the_training_pipeline_draws_cues_on_films_of_every_class(synthetic_dataset):
    assert all(share > 0.4 for share in changed_share_by_class(synthetic_dataset, cue_augmentation=True).values())
    assert all(share == 0 for share in changed_share_by_class(synthetic_dataset, cue_augmentation=False).values())
