"""Pruning for Keras 3: zero the smallest weights, or remove whole filters (chapter 9).

Two kinds of pruning, with different pay-offs:

- **Magnitude (unstructured) pruning** sets the smallest-magnitude weights of each
  convolution and dense kernel to zero, raising the fraction of zeros step by step while
  the model fine-tunes (:class:`MagnitudePruning`, a Keras callback that applies masks).
  The tensors keep their shapes: the file compresses much better (zeros are cheap to
  gzip), but dense kernels multiply the zeros all the same.
- **Structured pruning** removes whole convolution filters, those of smallest L1 norm, and
  builds a smaller model with fewer channels (:func:`prune_filters`): fewer FLOPs that
  every kernel library turns into time.

Why a callback and not ``tensorflow-model-optimization``: its ``prune_low_magnitude`` wraps
``tf_keras`` (Keras 2) layers and refuses Keras 3 models, so using it would mean a second
Keras in the process and rebuilding the model in the old API. The masking it does fits in
a callback: after each training step, multiply every kernel by its 0/1 mask.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from helpers.env import import_tensorflow

import_tensorflow()  # quietly, before Keras imports it

import keras  # noqa: E402


def prunable_layers(model) -> list:
    """Return the ``Conv2D`` and ``Dense`` layers of ``model``: those whose kernels are pruned."""
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D | keras.layers.Dense)]


def magnitude_mask(w: np.ndarray, sparsity: float) -> np.ndarray:
    """Return a 0/1 float32 mask of ``w``'s shape that zeros the ``sparsity`` fraction of smallest ``|w|``.

    Exactly ``round(sparsity * w.size)`` entries are zeroed (ties broken by position).
    """
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity!r}")
    w = np.asarray(w)
    k = int(round(sparsity * w.size))
    mask = np.ones(w.size, np.float32)
    if k:
        mask[np.argsort(np.abs(w).ravel(), kind="stable")[:k]] = 0.0
    return mask.reshape(w.shape)


def polynomial_sparsity(step: int, target: float, begin: int, end: int, power: int = 3) -> float:
    """Sparsity at ``step``: 0 before ``begin``, ``target`` from ``end`` on, a cubic ramp between.

    ``s(t) = target * (1 - (1 - (t - begin) / (end - begin)) ** power)``: pruning fast while
    many small weights remain, slowly near the target (Zhu and Gupta, 2017).
    """
    if end <= begin:
        raise ValueError(f"end must be > begin, got begin={begin}, end={end}")
    progress = min(max((step - begin) / (end - begin), 0.0), 1.0)
    return target * (1.0 - (1.0 - progress) ** power)


class MagnitudePruning(keras.callbacks.Callback):
    """Keras callback: prune every Conv2D/Dense kernel to ``target`` sparsity during training.

    Every ``frequency`` steps from ``begin_step`` to ``end_step`` the masks are recomputed
    at the sparsity :func:`polynomial_sparsity` gives (each layer pruned to the same
    fraction, smallest magnitudes first); after *every* step the kernels are multiplied by
    their masks, so weights the optimizer moved off zero go back to it. At the end of
    training the masks are applied at ``target`` exactly. Biases are left alone.
    ``masks``: ``{layer name: mask}`` after training.
    """

    def __init__(self, target: float, end_step: int, begin_step: int = 0, frequency: int = 50,
                 layers: Sequence[str] | None = None):
        super().__init__()
        if not 0.0 <= target < 1.0:
            raise ValueError(f"target must be in [0, 1), got {target!r}")
        if not isinstance(frequency, int) or frequency < 1:
            raise ValueError(f"frequency must be a positive integer, got {frequency!r}")
        if end_step <= begin_step:
            raise ValueError(f"end_step must be > begin_step, got {begin_step} and {end_step}")
        self.target, self.begin, self.end, self.frequency = target, begin_step, end_step, frequency
        self.layer_names = None if layers is None else list(layers)
        self.step = 0
        self.masks: dict[str, np.ndarray] = {}

    def _layers(self) -> list:
        found = prunable_layers(self.model)
        if self.layer_names is None:
            return found
        by_name = {layer.name: layer for layer in found}
        missing = [n for n in self.layer_names if n not in by_name]
        if missing:
            raise ValueError(f"layers must name Conv2D or Dense layers of the model; "
                             f"{missing} are not among {sorted(by_name)}")
        return [by_name[n] for n in self.layer_names]

    def _update_masks(self, sparsity: float) -> None:
        for layer in self._layers():
            self.masks[layer.name] = magnitude_mask(layer.kernel.numpy(), sparsity)

    def _apply(self) -> None:
        for layer in self._layers():
            if layer.name in self.masks:
                layer.kernel.assign(layer.kernel.numpy() * self.masks[layer.name])

    def on_train_begin(self, logs=None):
        """Start with all-ones masks: nothing is pruned before ``begin_step``."""
        self.step = 0
        self.masks = {layer.name: np.ones(layer.kernel.shape, np.float32) for layer in self._layers()}

    def on_train_batch_end(self, batch, logs=None):
        """Recompute the masks on schedule, then apply them."""
        self.step += 1
        if self.begin <= self.step <= self.end and (self.step - self.begin) % self.frequency == 0:
            self._update_masks(polynomial_sparsity(self.step, self.target, self.begin, self.end))
        self._apply()

    def on_train_end(self, logs=None):
        """Apply the target sparsity exactly, whatever step training stopped at."""
        self._update_masks(self.target)
        self._apply()


def kernel_sparsity(model) -> dict[str, float]:
    """Return the fraction of exactly-zero kernel weights of each Conv2D/Dense layer, by name."""
    return {layer.name: float(np.mean(layer.kernel.numpy() == 0)) for layer in prunable_layers(model)}


def filter_norms(layer) -> np.ndarray:
    """L1 norm of each output filter of a Conv2D layer: ``(C_out,)``."""
    kernel = layer.kernel.numpy()  # (kh, kw, C_in, C_out)
    return np.abs(kernel).sum(axis=(0, 1, 2))


def prune_filters(model, keep: float | dict[str, float]):
    """Return a smaller copy of a Sequential CNN with the weakest conv filters removed.

    ``model``: a ``keras.Sequential`` of Conv2D, MaxPooling2D/AveragePooling2D, Dropout,
    Flatten and Dense layers (the book's ``mnist_cnn``). ``keep``: the fraction of filters
    each Conv2D keeps (a float for all, or ``{layer name: fraction}``), those of largest L1
    norm. The next layer loses the matching input channels (a Conv2D its kernel's input
    slices, the Dense after Flatten the matching rows). Returns a new model with the
    surviving weights copied in (it usually needs a little fine-tuning).
    """
    allowed = (keras.layers.Conv2D, keras.layers.MaxPooling2D, keras.layers.AveragePooling2D,
               keras.layers.Dropout, keras.layers.Flatten, keras.layers.Dense)
    if not isinstance(model, keras.Sequential):
        raise ValueError(f"model must be a keras.Sequential, got {type(model).__name__}")
    odd = [layer.name for layer in model.layers if not isinstance(layer, allowed)]
    if odd:
        raise ValueError(f"model must hold only Conv2D, pooling, Dropout, Flatten and Dense layers; "
                         f"got {odd}")
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    fractions = keep if isinstance(keep, dict) else {layer.name: keep for layer in convs}
    for name, fraction in fractions.items():
        if not 0.0 < fraction <= 1.0:
            raise ValueError(f"keep[{name!r}] must be in (0, 1], got {fraction!r}")
    new_layers, weights = [keras.Input(model.input_shape[1:], name="image")], []
    kept = None  # indices of the channels that survive from the previous Conv2D
    spatial = None  # (H, W) of the feature map entering Flatten
    for layer in model.layers:
        config = layer.get_config()
        if isinstance(layer, keras.layers.Conv2D):
            kernel, bias = layer.get_weights()
            if kept is not None:
                kernel = kernel[:, :, kept, :]
            n_keep = max(1, int(round(fractions.get(layer.name, 1.0) * kernel.shape[-1])))
            order = np.argsort(-filter_norms(layer), kind="stable")[:n_keep]
            kept = np.sort(order)
            config["filters"] = n_keep
            weights.append([kernel[..., kept], bias[kept]])
        elif isinstance(layer, keras.layers.Flatten):
            spatial = layer.input.shape[1:3]
            weights.append([])
        elif isinstance(layer, keras.layers.Dense):
            kernel, bias = layer.get_weights()
            if kept is not None and spatial is not None:
                n_ch = layer.input.shape[-1] // (spatial[0] * spatial[1])
                rows = (np.arange(spatial[0] * spatial[1])[:, None] * n_ch + kept[None, :]).ravel()
                kernel = kernel[rows]
            kept, spatial = None, None
            weights.append([kernel, bias])
        else:
            weights.append([])
        new_layers.append(type(layer).from_config(config))
    pruned = keras.Sequential(new_layers, name=f"{model.name}_pruned")
    for layer, w in zip(pruned.layers, weights, strict=True):
        if w:
            layer.set_weights(w)
    return pruned
