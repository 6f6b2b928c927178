"""Helpers for the executable book "CNN performance".

One module per part of the book, so a reader can guess where a function lives:

- ``helpers.paths``: where the repository's data, models and results live.
- ``helpers.env``: seeding, determinism, quiet TensorFlow and the environment line.
- ``helpers.data``: the shipped MNIST archive, checked against its checksums.
- ``helpers.models``: Keras model builders.
- ``helpers.cost``: parameters and FLOPs per layer.
- ``helpers.timing``: warm-up, repeat, median.
- ``helpers.plots``: the book's figures.
- ``helpers.metrics``: confusion matrix, the most-confused pairs, calibration.
- ``helpers.training``: the one trainer (``train``), recipes, the input pipeline, schedules.
- ``helpers.throughput``: images per second, in this process or a fresh one (chapter 6).
- ``helpers.results``: ``Recorder``, the one call that records a headline number in
  ``results/<chapter>.json`` with its provenance, for the conclusion.
- ``helpers.summary``: the conclusion's table and trade-off plots, built from those files.
- ``helpers.show``: a helper's source rendered on the page (``show_source``).
- ``helpers.scratch``: convolution, pooling, activations and losses from scratch in NumPy.
- ``helpers.augment``: random shifts, rotations and zooms for the trainer's ``augment=``
  hook, and test-time augmentation (chapter 7).
- ``helpers.tuning``: chapter 7's tools for choosing a recipe on validation data (range
  test, learning-curve fit, selection optimism, the ladder's rungs, ensembles).
- ``helpers.deploy``: LiteRT conversion and ``DigitPredictor``, which checks its input (chapter 9).
- ``helpers.distribute``: multi-worker training with ``tf.distribute`` (a custom step, the
  input pipeline every worker runs, a launcher that restarts dead workers) (chapter 8).
- ``helpers.scaling``: Pareto frontier, diminishing returns, all-reduce cost model (chapter 8).

TensorFlow is imported lazily (only by the modules that need it), so ``import helpers``
stays fast and quiet.
"""

__version__ = "0.1.0"
