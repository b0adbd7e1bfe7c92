"""Local validation (issue 26): a clinic sees a model version's suggestions only once they have been checked on
its own films. Per clinic and served version an AI state (silent, live, paused: `ClinicAIState`), the one rule
of whether a prediction may be shown (`selectors.exposed_prediction`), and the changes of state (`services`)."""
