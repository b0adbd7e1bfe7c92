"""How the gate's thresholds are chosen. The rule was written before any test figure was seen.

The rules are constants, not fitted: 128 px is the upload form's own minimum side; a contrast
(standard deviation) under 4 gray levels at 96 px shows nothing; a neighbour correlation
under 0.5 is per-pixel noise (chest films measure above 0.88, downscaled noise about 0.25).

The two learned signals are fitted on the chest validation films only (cxr val rows and the
cxr-extra validation groups), each given a budget of films it may refuse:
- chest_probability: the largest threshold that refuses at most NETWORK_BUDGET of them;
- ood_distance: the smallest threshold that refuses at most DISTANCE_BUDGET of the films the
  rules and the network pass.
Together at most 0.5 % of validation films, below the 1 % target, as test films will
differ. The not-cxr validation split is not used to fit: it only reports what refusal costs.
"""

import numpy as np

from classifier.gate import CHEST, RULES, decide

RULE_THRESHOLDS = {"min_side": 128.0, "blank_contrast": 4.0, "noise_correlation": 0.5}
NETWORK_BUDGET = 0.003
DISTANCE_BUDGET = 0.002


def fit_thresholds(chest_scores: list[dict[str, float]]) -> tuple[dict[str, float], dict]:
    """Thresholds from the gate's scores of the chest validation films, and how they were fitted."""
    probabilities = np.array([scores[CHEST] for scores in chest_scores])
    # np.quantile's "lower" method picks a film's own score, so at most the budget falls below it.
    chest_probability = float(np.quantile(probabilities, NETWORK_BUDGET, method="lower"))
    without_distance = {**RULE_THRESHOLDS, "chest_probability": chest_probability, "ood_distance": float("inf")}
    kept = [scores["ood_distance"] for scores in chest_scores if decide(scores, without_distance)[0]]
    if not kept:
        raise ValueError("No chest validation film passes the rules and the network: nothing to fit a distance on")
    ood_distance = float(np.quantile(kept, 1 - DISTANCE_BUDGET, method="higher"))
    fitting = {
        "fitted_on": "chest validation films (cxr val rows + cxr-extra validation groups)",
        "films": len(chest_scores), "network_budget": NETWORK_BUDGET, "distance_budget": DISTANCE_BUDGET,
        "refused_by_rules": sum(any(refuses(s, RULE_THRESHOLDS) for refuses in RULES.values()) for s in chest_scores),
        "lowest_neighbour_correlation": float(min(s["neighbour_correlation"] for s in chest_scores)),
        "lowest_contrast": float(min(s["contrast"] for s in chest_scores)),
    }
    return {**RULE_THRESHOLDS, "chest_probability": chest_probability, "ood_distance": ood_distance}, fitting
