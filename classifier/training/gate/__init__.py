"""Training the input gate: its data, synthetic negatives, network, thresholds, training and
evaluation. The served gate itself is `classifier.gate`."""
