"""Parameters and floating-point operations (FLOPs) per layer of a Keras model.

Conventions (the usual ones in papers and profilers):

- A multiply-add (MAC) counts as 2 FLOPs. Convolution: ``H_out * W_out * C_out * KH * KW *
  C_in / groups`` MACs; Dense: ``units_in * units_out`` MACs (per position if the input has
  more than one axis). Bias adds and activations are not counted: they are a few percent.
- Pooling: a max pool does ``KH*KW - 1`` comparisons per output value and an average
  pool ``KH*KW`` additions (division ignored); global pooling likewise over ``H*W``.
  They are counted as FLOPs, but separately from the multiply-adds (column ``macs``).
- Flatten, Dropout (at inference), Reshape and Input cost nothing.
- Counts are per image (batch size 1), for the forward pass. Training costs about three
  times that (forward, gradient with respect to the input, gradient with respect to the
  weights).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class LayerCost:
    """Cost of one layer for one image in the forward pass."""

    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int
    macs: int
    flops: int


def _shape(tensor_or_shape) -> tuple[int, ...]:
    shape = getattr(tensor_or_shape, "shape", tensor_or_shape)
    return tuple(int(d) for d in shape[1:])


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def layer_cost(layer) -> LayerCost:
    """Return the :class:`LayerCost` of one built Keras layer.

    Supports Conv2D, DepthwiseConv2D, SeparableConv2D, Dense, MaxPooling2D,
    AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D; other layers are counted
    as free (zero MACs), which holds for Flatten, Dropout, Reshape, Activation and ReLU.
    Raises ValueError for a layer that is not built (its shapes are unknown).
    """
    import keras

    if not layer.built:
        raise ValueError(f"layer {layer.name!r} is not built; build the model on an input shape first")
    out = _shape(layer.output)
    inp = _shape(layer.input)
    params = int(layer.count_params())
    kind = type(layer).__name__
    positions = math.prod(out[:-1]) if len(out) > 1 else 1
    macs, other = 0, 0
    L = keras.layers
    if isinstance(layer, L.SeparableConv2D):
        kh, kw = _pair(layer.kernel_size)
        c_in = inp[-1]
        mult = layer.depth_multiplier
        macs = positions * kh * kw * c_in * mult + positions * c_in * mult * out[-1]
    elif isinstance(layer, L.DepthwiseConv2D):
        kh, kw = _pair(layer.kernel_size)
        macs = positions * out[-1] * kh * kw
    elif isinstance(layer, L.Conv2D):
        kh, kw = _pair(layer.kernel_size)
        macs = positions * out[-1] * kh * kw * inp[-1] // layer.groups
    elif isinstance(layer, L.Dense):
        macs = math.prod(inp[:-1] or (1,)) * inp[-1] * out[-1]
    elif isinstance(layer, L.MaxPooling2D):
        kh, kw = _pair(layer.pool_size)
        other = math.prod(out) * (kh * kw - 1)
    elif isinstance(layer, L.AveragePooling2D):
        kh, kw = _pair(layer.pool_size)
        other = math.prod(out) * kh * kw
    elif isinstance(layer, L.GlobalAveragePooling2D | L.GlobalMaxPooling2D):
        h, w, c = inp
        other = c * (h * w if isinstance(layer, L.GlobalAveragePooling2D) else h * w - 1)
    return LayerCost(layer.name, kind, out, params, int(macs), int(2 * macs + other))


def model_cost(model) -> list[LayerCost]:
    """Return the cost of every layer of a built Keras model, in order."""
    if not model.built:
        raise ValueError("model is not built; give it an Input or call it on data first")
    return [layer_cost(layer) for layer in model.layers]


def total_cost(model) -> LayerCost:
    """Return one :class:`LayerCost` that sums params, MACs and FLOPs over the model."""
    rows = model_cost(model)
    return LayerCost(
        name=model.name,
        kind="total",
        output_shape=rows[-1].output_shape if rows else (),
        params=sum(r.params for r in rows),
        macs=sum(r.macs for r in rows),
        flops=sum(r.flops for r in rows),
    )


def cost_table(model) -> str:
    """Return a plain-text table: layer, output shape, parameters, MACs, FLOPs, % of FLOPs."""
    rows = model_cost(model)
    total = total_cost(model)
    head = f"{'layer':<24}{'output shape':<16}{'params':>10}{'MACs':>13}{'FLOPs':>13}{'share':>8}"
    lines = [head, "-" * len(head)]
    for r in rows + [total]:
        if r is total:
            lines.append("-" * len(head))
        share = r.flops / total.flops if total.flops else 0.0
        shape = "x".join(map(str, r.output_shape))
        lines.append(
            f"{r.name + ' (' + r.kind + ')' if r is not total else 'total':<24}{shape:<16}"
            f"{r.params:>10,}{r.macs:>13,}{r.flops:>13,}{share:>8.1%}"
        )
    return "\n".join(lines)
