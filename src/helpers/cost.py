"""Parameters and floating-point operations (FLOPs) per layer of a Keras model.

Conventions (the usual ones in papers and profilers):

- A multiply-add (MAC) counts as 2 FLOPs. Convolution: ``H_out * W_out * C_out * KH * KW *
  C_in / groups`` MACs; Dense: ``units_in * units_out`` MACs (per position if the input has
  more than one axis). Bias adds and activations are not counted: they are a few percent.
- Pooling: a max pool does ``KH*KW - 1`` comparisons per output value and an average
  pool ``KH*KW`` additions (division ignored); global pooling likewise over ``H*W``.
  They are counted as FLOPs, but separately from the multiply-adds (column ``macs``).
- Add (a residual shortcut) does one addition per output value and extra input, counted
  like pooling (FLOPs, not MACs).
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
    if isinstance(tensor_or_shape, list | tuple) and tensor_or_shape and hasattr(tensor_or_shape[0], "shape"):
        tensor_or_shape = tensor_or_shape[0]  # a layer with several inputs (Add): they share a shape
    shape = getattr(tensor_or_shape, "shape", tensor_or_shape)
    return tuple(int(d) for d in shape[1:])


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def layer_cost(layer) -> LayerCost:
    """Return the :class:`LayerCost` of one built Keras layer.

    Supports Conv2D, DepthwiseConv2D, SeparableConv2D, Dense, MaxPooling2D,
    AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, Add; other layers are counted
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
    elif isinstance(layer, L.Add):  # a residual shortcut: one addition per value and extra input
        other = math.prod(out) * (len(layer.input) - 1)
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


def training_flops(model, images: int, epochs: float = 1.0) -> float:
    """Approximate FLOPs to train ``model`` on ``images`` images for ``epochs`` epochs.

    One training step costs about three forward passes: the forward pass itself, the
    gradient with respect to each layer's input, and the gradient with respect to its
    weights (each about as costly as the forward pass). Optimizer updates are ignored.
    """
    if images < 0 or epochs < 0:
        raise ValueError(f"images and epochs must be >= 0, got {images!r} and {epochs!r}")
    return 3.0 * total_cost(model).flops * images * epochs


@dataclass(frozen=True)
class PeakEstimate:
    """A CPU's theoretical peak FP32 FLOP/s, with every assumption that goes into it."""

    cores: int
    fma_units: int
    vector_bits: int
    clock_ghz: float

    @property
    def lanes(self) -> int:
        """FP32 values per vector: ``vector_bits / 32``."""
        return self.vector_bits // 32

    @property
    def flops_per_cycle_per_core(self) -> int:
        """FMA units x lanes x 2 (a fused multiply-add is two FLOPs)."""
        return self.fma_units * self.lanes * 2

    @property
    def flops(self) -> float:
        """Peak FLOP/s: cores x FMA units x lanes x 2 x clock."""
        return self.cores * self.flops_per_cycle_per_core * self.clock_ghz * 1e9

    def __str__(self) -> str:
        """E.g. ``2 cores x 2 FMA units x 8 lanes x 2 x 2.60 GHz = 166 GFLOP/s``."""
        return (
            f"{self.cores} cores x {self.fma_units} FMA units x {self.lanes} FP32 lanes x 2 "
            f"x {self.clock_ghz:.2f} GHz = {self.flops / 1e9:.0f} GFLOP/s"
        )


def peak_flops(cores: int, fma_units: int, vector_bits: int, clock_ghz: float) -> PeakEstimate:
    """Estimate peak FP32 FLOP/s from the CPU's parameters (see :class:`PeakEstimate`).

    ``vector_bits`` is the width of the FMA *datapath*, which is not always the width of the
    widest instruction: AMD Zen 4 runs AVX-512 instructions on 256-bit units in two halves,
    so its datapath is 256 bits although it reports ``avx512f``.
    """
    for name, value in (("cores", cores), ("fma_units", fma_units)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if vector_bits not in (128, 256, 512):
        raise ValueError(f"vector_bits must be 128, 256 or 512, got {vector_bits!r}")
    if not clock_ghz > 0:
        raise ValueError(f"clock_ghz must be > 0, got {clock_ghz!r}")
    return PeakEstimate(cores, fma_units, vector_bits, float(clock_ghz))


def fma_datapath_bits(vendor: str, family: int | None, flags: frozenset[str]) -> int:
    """Guess the width of a CPU's FMA datapath from ``/proc/cpuinfo``'s vendor, family and flags.

    The flags give the widest *instruction* set; the datapath can be narrower. Rules (each an
    assumption the caller should state): AMD family 25 (Zen 3 and Zen 4) executes AVX-512 on
    256-bit units; AMD family 26 (Zen 5) on server parts has full 512-bit units; Intel CPUs
    with AVX-512 are taken as 512 bits wide; otherwise AVX2/FMA means 256 bits, and anything
    else 128.
    """
    if "avx512f" in flags:
        if vendor == "AuthenticAMD" and (family or 0) < 26:
            return 256
        return 512
    if "avx2" in flags or "fma" in flags:
        return 256
    return 128
