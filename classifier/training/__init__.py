"""Training the classifier: data and splits, augmentation, networks, training, ensembles, export
to LiteRT, evaluation, shortcut checks and the model card.

TensorFlow and Keras live here (imported inside the functions that need them), never in the
serving modules one level up: the worker classifies without importing this package.
"""
