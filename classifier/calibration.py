"""Temperature scaling and expected calibration error (NumPy only: usable at serving time)."""

import numpy as np
from scipy.optimize import minimize_scalar


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    scaled -= scaled.max(axis=-1, keepdims=True)
    exp = np.exp(scaled)
    return exp / exp.sum(axis=-1, keepdims=True)


def negative_log_likelihood(logits: np.ndarray, y: np.ndarray, temperature: float) -> float:
    probabilities = softmax(logits, temperature)
    return float(-np.mean(np.log(np.clip(probabilities[np.arange(len(y)), y], 1e-12, None))))


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature that minimises validation NLL (Guo et al. 2017); searched on log scale."""
    result = minimize_scalar(lambda log_t: negative_log_likelihood(logits, y, float(np.exp(log_t))),
                             bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(result.x))


def reliability_bins(probabilities: np.ndarray, y: np.ndarray, n_bins: int = 15) -> list[dict]:
    """Per confidence bin: count, mean confidence, accuracy of the top label."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == y
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = []
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            bins.append({"low": float(low), "high": float(high), "n": int(inside.sum()),
                         "confidence": float(confidence[inside].mean()), "accuracy": float(correct[inside].mean())})
    return bins


def expected_calibration_error(probabilities: np.ndarray, y: np.ndarray, n_bins: int = 15) -> float:
    """Top-label ECE: the count-weighted gap between confidence and accuracy over bins."""
    total = len(y)
    return float(sum(b["n"] / total * abs(b["accuracy"] - b["confidence"])
                     for b in reliability_bins(probabilities, y, n_bins)))


def covid_decision_weight(probabilities: np.ndarray, y: np.ndarray, *, target_sensitivity: float,
                          covid: int = 0) -> float:
    """The smallest weight on the COVID-19 probability whose weighted argmax reaches the target
    COVID-19 sensitivity on (validation) labels y; probabilities themselves stay calibrated."""
    positives = y == covid
    for weight in np.arange(1.0, 4.001, 0.05):
        weights = np.ones(probabilities.shape[1])
        weights[covid] = weight
        if ((probabilities * weights).argmax(axis=1)[positives] == covid).mean() >= target_sensitivity:
            return float(round(weight, 2))
    return 4.0
