"""The operating point and the uncertain band, as the sidecar states them (NumPy only: serving side).

The network's probabilities are calibrated and stay as they are; deciding is a separate, stated
step, fitted on validation (`fit_operating_point`, rules in SELECTION_RULES.md):
- the label is the argmax of the probabilities with each class's weight applied (`decision_weights`);
- a film whose top weighted score is within the band of the runner-up (`uncertain_band.margin`, a
  log ratio) is uncertain: it gets no label suggestion and no priority;
- the words clinic staff see instead of a percentage ("COVID-19 pattern: likely") come from the
  calibrated COVID-19 probability and the sidecar's `covid_words` bands.
"""

import numpy as np


def weighted_scores(probabilities: np.ndarray, weights) -> np.ndarray:
    return np.asarray(probabilities, dtype=np.float64) * np.asarray(weights, dtype=np.float64)


def decide(probabilities: np.ndarray, weights) -> np.ndarray:
    """Label indices at the operating point, for a batch of probability rows."""
    return weighted_scores(probabilities, weights).argmax(axis=-1)


def margins(probabilities: np.ndarray, weights) -> np.ndarray:
    """ln(top weighted score / runner-up weighted score) per row: 0 on the decision boundary."""
    ordered = np.sort(np.clip(weighted_scores(probabilities, weights), 1e-12, None), axis=-1)
    return np.log(ordered[..., -1] / ordered[..., -2])


def in_band(probabilities: np.ndarray, weights, margin: float | None) -> np.ndarray:
    """True where a row lies inside the uncertain band (no band stated: never)."""
    found = margins(probabilities, weights)
    return found < margin if margin is not None else np.zeros(found.shape, dtype=bool)


LIKELY, POSSIBLE, UNLIKELY = "likely", "possible", "unlikely"


def covid_word(probability: float, bands: dict | None) -> str:
    """"likely" / "possible" / "unlikely" for a calibrated COVID-19 probability ("" without bands)."""
    if not bands:
        return ""
    if probability >= bands["likely"]:
        return LIKELY
    return UNLIKELY if probability < bands["unlikely"] else POSSIBLE
