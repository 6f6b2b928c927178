"""Keras model builders, written to read like the architecture diagram."""

from __future__ import annotations

#: Input shape of an MNIST image in NHWC layout (without the batch axis).
MNIST_SHAPE = (28, 28, 1)


def mnist_cnn(softmax: bool = False, dropout: float = 0.2, name: str = "mnist_cnn"):
    """Build the MNIST chapter's model, the one the original text builds.

    Conv2D(32, 3x3, relu) -> MaxPool 2x2 -> Conv2D(64, 3x3, relu) -> MaxPool 2x2 ->
    Flatten -> Dense(64, relu) -> Dropout -> Dense(10).

    Input ``(N, 28, 28, 1)`` float32 in [0, 1]; output ``(N, 10)``: logits by default
    (pair with ``SparseCategoricalCrossentropy(from_logits=True)``, the numerically
    stable form), or probabilities with ``softmax=True`` (the original text's form).
    121,930 parameters; 2.53 M multiply-adds per image.
    """
    import keras
    from keras import layers

    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    return keras.Sequential(
        [
            keras.Input(MNIST_SHAPE, name="image"),
            layers.Conv2D(32, 3, activation="relu", name="conv1"),
            layers.MaxPooling2D(2, name="pool1"),
            layers.Conv2D(64, 3, activation="relu", name="conv2"),
            layers.MaxPooling2D(2, name="pool2"),
            layers.Flatten(name="flatten"),
            layers.Dense(64, activation="relu", name="dense"),
            layers.Dropout(dropout, name="dropout"),
            layers.Dense(10, activation="softmax" if softmax else None, name="output"),
        ],
        name=name,
    )


def compile_classifier(model, learning_rate: float = 1e-3, from_logits: bool = True):
    """Compile ``model`` with Adam, sparse categorical cross-entropy and accuracy.

    ``from_logits`` must match the model's last layer: True for logits (no softmax),
    False for probabilities. Returns the model, compiled.
    """
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits),
        metrics=["accuracy"],
    )
    return model


def _seeded(initializer: str, seed: int | None, offset: int):
    """Return the Keras initializer ``initializer``, seeded with ``seed + offset`` if seed is given."""
    import keras

    if seed is None:
        return keras.initializers.get(initializer)
    return keras.initializers.get({"class_name": initializer, "config": {"seed": seed + offset}})


def _check_activation(activation) -> None:
    """Raise ValueError naming ``activation`` unless Keras knows it."""
    import keras

    try:
        keras.activations.get(activation)
    except ValueError:
        raise ValueError(
            f"activation must be a Keras activation name such as 'relu' or 'gelu', or a callable; "
            f"got {activation!r}"
        ) from None


def small_cnn(
    activation: str = "relu",
    filters: tuple[int, int] = (16, 32),
    seed: int | None = None,
    name: str | None = None,
):
    """Build a small two-convolution MNIST classifier with a chosen activation (chapter 3).

    Conv2D(filters[0], 3x3, activation) -> MaxPool 2x2 -> Conv2D(filters[1], 3x3, activation)
    -> MaxPool 2x2 -> Flatten -> Dense(10).

    Input ``(N, 28, 28, 1)`` float32 in [0, 1]; output ``(N, 10)`` logits. With the default
    filters it has 12,810 parameters and does 0.66 M multiply-adds per image, a quarter
    of chapter 5's model, so six of them train in well under a minute. ``activation`` is
    any name or callable Keras accepts (``"relu"``, ``"leaky_relu"``, ``"sigmoid"``,
    ``"tanh"``, ``"gelu"``, ``"swish"``, ...). With ``seed`` the kernels are Glorot-uniform
    with seeds ``seed``, ``seed + 1``, ``seed + 2``, so the same seed gives the same initial
    weights whatever the global random state.
    """
    import keras
    from keras import layers

    _check_activation(activation)
    if len(filters) != 2 or not all(isinstance(f, int) and f >= 1 for f in filters):
        raise ValueError(f"filters must be two positive integers, got {filters!r}")
    if name is None:
        name = f"small_cnn_{activation}" if isinstance(activation, str) else "small_cnn"
    return keras.Sequential(
        [
            keras.Input(MNIST_SHAPE, name="image"),
            layers.Conv2D(filters[0], 3, activation=activation,
                          kernel_initializer=_seeded("glorot_uniform", seed, 0), name="conv1"),
            layers.MaxPooling2D(2, name="pool1"),
            layers.Conv2D(filters[1], 3, activation=activation,
                          kernel_initializer=_seeded("glorot_uniform", seed, 1), name="conv2"),
            layers.MaxPooling2D(2, name="pool2"),
            layers.Flatten(name="flatten"),
            layers.Dense(10, kernel_initializer=_seeded("glorot_uniform", seed, 2), name="output"),
        ],
        name=name,
    )


def dense_stack(
    depth: int,
    width: int = 64,
    activation: str = "relu",
    kernel_initializer: str = "glorot_uniform",
    bias: float = 0.0,
    input_dim: int = 784,
    num_classes: int = 10,
    seed: int | None = None,
    name: str = "dense_stack",
):
    """Build ``depth`` hidden Dense layers of ``width`` units and a logits layer (chapter 3).

    Input ``(N, input_dim)``, e.g. flattened 28x28 images; output ``(N, num_classes)`` logits.
    The hidden layers are named ``hidden1`` .. ``hidden{depth}`` and use ``activation``,
    kernels from ``kernel_initializer`` (a Keras initializer name such as
    ``"glorot_uniform"`` or ``"he_normal"``) and every bias set to the constant ``bias``
    (chapter 3 sets it negative to kill ReLUs on purpose). The output layer, ``output``, is
    Glorot-uniform with zero bias and no activation. With ``seed`` hidden layer ``i`` is
    seeded with ``seed + i - 1`` and the output layer with ``seed + depth``.
    """
    import keras
    from keras import layers

    _check_activation(activation)
    sizes = {"depth": depth, "width": width, "input_dim": input_dim, "num_classes": num_classes}
    for arg, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{arg} must be a positive integer, got {value!r}")
    hidden = [
        layers.Dense(width, activation=activation, kernel_initializer=_seeded(kernel_initializer, seed, i),
                     bias_initializer=keras.initializers.Constant(bias), name=f"hidden{i + 1}")
        for i in range(depth)
    ]
    output = layers.Dense(num_classes, kernel_initializer=_seeded("glorot_uniform", seed, depth),
                          name="output")
    return keras.Sequential([keras.Input((input_dim,), name="features"), *hidden, output], name=name)


def fast_cnn(width: int = 16, kernel: int = 5, batch_norm: bool = False, dense: int = 0,
             name: str = "fast_cnn"):
    """Build chapter 6's cheaper model: two 5x5 convolutions, each followed by 2x2 max pooling.

    Conv2D(16, 5x5, relu) -> MaxPool 2x2 -> Conv2D(32, 5x5, relu) -> MaxPool 2x2 -> Flatten
    -> Dense(10) logits. Input ``(N, 28, 28, 1)``; output ``(N, 10)`` logits. With the
    default width, 18,378 parameters and 1.05 M multiply-adds per image (2.4 times fewer
    than :func:`mnist_cnn`): the 5x5 kernels see as much of a digit after two layers as
    the seed model's 3x3 kernels, while the narrower layers do far less work.
    ``batch_norm=True`` puts BatchNormalization between each convolution and its ReLU
    (chapter 6 measures what it costs and what it buys). ``dense > 0`` adds the seed
    model's head before the output, Dense(dense, relu) -> Dropout 0.2, which
    ``fast_cnn`` otherwise drops; ``fast_cnn(32, kernel=3, dense=64)`` is
    :func:`mnist_cnn`'s architecture, and ``fast_cnn(32, kernel=3)`` is it without its head.
    """
    import keras
    from keras import layers

    if not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be a positive integer, got {width!r}")
    if not isinstance(kernel, int) or not 1 <= kernel <= 7:
        raise ValueError(f"kernel must be an integer in [1, 7], got {kernel!r}")
    if not isinstance(dense, int) or isinstance(dense, bool) or dense < 0:
        raise ValueError(f"dense must be an integer >= 0 (0: no hidden Dense layer), got {dense!r}")
    head = [layers.Dense(dense, activation="relu", name="dense"),
            layers.Dropout(0.2, name="dropout")] if dense else []
    return keras.Sequential(
        [
            keras.Input(MNIST_SHAPE, name="image"),
            *_conv_block(width, kernel, batch_norm, "1"),
            *_conv_block(2 * width, kernel, batch_norm, "2"),
            layers.Flatten(name="flatten"),
            *head,
            layers.Dense(10, name="output"),
        ],
        name=name,
    )


def mnist_cnn_variant(
    downsample: str = "max_pool",
    head: str = "flatten",
    dropout: float = 0.2,
    seed: int | None = None,
    name: str | None = None,
):
    """Build the MNIST chapter's model with one of its two downsampling knobs changed (chapter 2).

    ``downsample`` says how each of the two stages halves the image:
    ``"max_pool"`` (Conv2D 3x3 then MaxPooling2D 2x2, as :func:`mnist_cnn`), ``"avg_pool"``
    (Conv2D then AveragePooling2D 2x2) or ``"stride"`` (one Conv2D 3x3 with stride 2, no
    pooling layer). ``head`` says how the last feature map, ``(N, h, w, 64)``, becomes a
    vector for ``Dense(64)``: ``"flatten"`` (all h*w*64 values, as the MNIST chapter) or
    ``"gap"`` (GlobalAveragePooling2D: one average per channel, 64 values).

    Input ``(N, 28, 28, 1)`` float32 in [0, 1]; output ``(N, 10)`` logits. Layers are named
    ``conv1``, ``pool1`` (absent with ``"stride"``), ``conv2``, ``pool2``, then ``flatten``
    or ``gap``, ``dense``, ``dropout``, ``output``. Parameters: 121,930 with the defaults
    (same as :func:`mnist_cnn`), 23,626 with ``head="gap"``, 166,986 with
    ``downsample="stride"``. With ``seed`` the kernels are Glorot-uniform seeded with
    ``seed`` .. ``seed + 3`` and the dropout with ``seed + 4``.
    """
    import keras
    from keras import layers

    pools = {"max_pool": layers.MaxPooling2D, "avg_pool": layers.AveragePooling2D, "stride": None}
    if downsample not in pools:
        raise ValueError(f"downsample must be one of {sorted(pools)}, got {downsample!r}")
    if head not in ("flatten", "gap"):
        raise ValueError(f"head must be 'flatten' or 'gap', got {head!r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    stack = [keras.Input(MNIST_SHAPE, name="image")]
    for i, filters in enumerate((32, 64), start=1):
        stride = 2 if downsample == "stride" else 1
        init = _seeded("glorot_uniform", seed, i - 1)
        stack.append(layers.Conv2D(filters, 3, strides=stride, activation="relu",
                                   kernel_initializer=init, name=f"conv{i}"))
        if pools[downsample] is not None:
            stack.append(pools[downsample](2, name=f"pool{i}"))
    if head == "flatten":
        stack.append(layers.Flatten(name="flatten"))
    else:
        stack.append(layers.GlobalAveragePooling2D(name="gap"))
    stack += [
        layers.Dense(64, activation="relu", kernel_initializer=_seeded("glorot_uniform", seed, 2),
                     name="dense"),
        layers.Dropout(dropout, seed=None if seed is None else seed + 4, name="dropout"),
        layers.Dense(10, kernel_initializer=_seeded("glorot_uniform", seed, 3), name="output"),
    ]
    return keras.Sequential(stack, name=name or f"mnist_cnn_{downsample}_{head}")


def _conv_block(filters: int, kernel: int, batch_norm: bool, suffix: str) -> list:
    """Conv2D -> (BatchNormalization) -> ReLU -> MaxPool 2x2, named conv<suffix> etc."""
    from keras import layers

    if not batch_norm:
        return [layers.Conv2D(filters, kernel, activation="relu", name=f"conv{suffix}"),
                layers.MaxPooling2D(2, name=f"pool{suffix}")]
    return [layers.Conv2D(filters, kernel, use_bias=False, name=f"conv{suffix}"),
            layers.BatchNormalization(name=f"bn{suffix}"),
            layers.ReLU(name=f"relu{suffix}"),
            layers.MaxPooling2D(2, name=f"pool{suffix}")]


#: Where :func:`accurate_cnn` can put its dropout.
DROPOUT_PLACES = ("none", "head", "stages")


def accurate_cnn(
    widths: tuple[int, ...] = (32, 64, 128),
    convs: int | tuple[int, ...] = 2,
    batch_norm: bool = True,
    dropout: float = 0.0,
    dropout_at: str = "head",
    dense: int = 0,
    name: str = "accurate_cnn",
):
    """Build chapter 7's VGG-like network: stages of 3x3 convolutions, then global average pooling.

    Stage ``i`` (of ``len(widths)``) is ``convs[i]`` times [Conv2D(widths[i], 3x3, "same") ->
    BatchNormalization (if ``batch_norm``) -> ReLU], followed by MaxPool 2x2 except after the
    last stage: 28x28 -> 14x14 -> 7x7 with three stages (an integer ``convs`` means the
    same number in every stage). Then GlobalAveragePooling2D ->
    (Dense(``dense``) -> ReLU, if ``dense``) -> Dense(10) logits. ``dropout_at`` places
    Dropout(``dropout``): ``"head"`` (before the last Dense), ``"stages"`` (after every
    pooling and before the head), or ``"none"``. With BatchNormalization the convolutions
    have no bias (the normalization's shift replaces it).

    Input ``(N, 28, 28, 1)`` float32 (pixels in [0, 1]); output ``(N, 10)`` logits.
    Layers are named ``conv{stage}_{k}``, ``bn{stage}_{k}``, ``relu{stage}_{k}``,
    ``pool{stage}``, ``drop{stage}``, ``gap``, ``dense``, ``drop_head``, ``output``.
    """
    import keras
    from keras import layers

    if not widths or not all(isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in widths):
        raise ValueError(f"widths must be a non-empty tuple of positive integers, got {widths!r}")
    if len(widths) > 3:
        raise ValueError(f"widths must have at most 3 stages for 28x28 inputs, got {len(widths)}")
    per_stage = (convs,) * len(widths) if isinstance(convs, int) and not isinstance(convs, bool) else convs
    if (not isinstance(per_stage, tuple) or len(per_stage) != len(widths)
            or not all(isinstance(c, int) and not isinstance(c, bool) and c >= 1 for c in per_stage)):
        raise ValueError(f"convs must be a positive integer or one per stage ({len(widths)}), got {convs!r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    if dropout_at not in DROPOUT_PLACES:
        raise ValueError(f"dropout_at must be one of {list(DROPOUT_PLACES)}, got {dropout_at!r}")
    if isinstance(dense, bool) or not isinstance(dense, int) or dense < 0:
        raise ValueError(f"dense must be a non-negative integer, got {dense!r}")
    stack = [keras.Input(MNIST_SHAPE, name="image")]
    for s, (width, n_convs) in enumerate(zip(widths, per_stage, strict=True), start=1):
        for k in range(1, n_convs + 1):
            stack.append(layers.Conv2D(width, 3, padding="same", use_bias=not batch_norm,
                                       name=f"conv{s}_{k}"))
            if batch_norm:
                stack.append(layers.BatchNormalization(name=f"bn{s}_{k}"))
            stack.append(layers.ReLU(name=f"relu{s}_{k}"))
        if s < len(widths):
            stack.append(layers.MaxPooling2D(2, name=f"pool{s}"))
        if dropout and dropout_at == "stages":
            stack.append(layers.Dropout(dropout, name=f"drop{s}"))
    stack.append(layers.GlobalAveragePooling2D(name="gap"))
    if dense:
        stack.append(layers.Dense(dense, activation="relu", name="dense"))
    if dropout and dropout_at == "head":
        stack.append(layers.Dropout(dropout, name="drop_head"))
    stack.append(layers.Dense(10, name="output"))
    return keras.Sequential(stack, name=name)


#: Chapter 8's width multipliers and depths (number of 3x3 convolutions).
SCALED_WIDTHS = (0.25, 0.5, 1.0, 2.0, 4.0)
SCALED_DEPTHS = (2, 3, 4, 5, 6)
#: Filters of the two stages at width 1.
SCALED_BASE = (8, 16)


def scaled_filters(width: float) -> tuple[int, int]:
    """Return the filters of :func:`scaled_cnn`'s two stages at ``width``: ``round(8 w)``, ``round(16 w)``.

    Each is at least 1.
    """
    if isinstance(width, bool) or not isinstance(width, int | float) or not 0 < width <= 16:
        raise ValueError(f"width must be a number in (0, 16], got {width!r}")
    return tuple(max(1, round(b * width)) for b in SCALED_BASE)


def scaled_cnn(width: float = 1.0, depth: int = 4, residual: bool = False, seed: int | None = None,
               name: str | None = None):
    """Build one member of chapter 8's family of CNNs, scaled in width and depth.

    Two stages of 3x3 convolutions ("same" padding, ReLU), each followed by 2x2 max pooling,
    then Flatten -> Dense(10) logits. Stage 1 works at 28x28 with ``round(8 * width)``
    filters and holds ``depth // 2`` convolutions; stage 2 works at 14x14 with
    ``round(16 * width)`` filters and holds the other ``depth - depth // 2``. Depth 2 is
    one convolution per stage; depth 6 is three.

    ``residual=True`` adds each convolution after the first of its stage back onto its
    input (``x + relu(conv(x))``, the identity shortcut of a residual network), which keeps
    a gradient path through deep stacks; it needs a stage with two convolutions
    (``depth >= 3``). Chapter 8 compares depths 5 and 6 with and without it.

    Input ``(N, 28, 28, 1)`` float32; output ``(N, 10)`` logits. At width 1 and depth 4:
    12,002 parameters, 1.19 M multiply-adds per image. With ``seed`` every kernel is
    Glorot-uniform seeded from it, so the same seed gives the same initial weights.
    """
    import keras
    from keras import layers

    filters = scaled_filters(width)
    if isinstance(depth, bool) or not isinstance(depth, int) or not 2 <= depth <= 8:
        raise ValueError(f"depth must be an integer in [2, 8], got {depth!r}")
    if residual and depth < 3:
        raise ValueError(f"residual=True needs depth >= 3 (a stage with two convolutions), got depth={depth}")
    per_stage = (depth // 2, depth - depth // 2)
    x = inputs = keras.Input(MNIST_SHAPE, name="image")
    n = 0
    for stage, (f, convs) in enumerate(zip(filters, per_stage, strict=True), start=1):
        for k in range(convs):
            n += 1
            h = layers.Conv2D(f, 3, padding="same", activation="relu",
                              kernel_initializer=_seeded("glorot_uniform", seed, n), name=f"conv{n}")(x)
            x = layers.Add(name=f"skip{n}")([x, h]) if residual and k > 0 else h
        x = layers.MaxPooling2D(2, name=f"pool{stage}")(x)
    x = layers.Flatten(name="flatten")(x)
    outputs = layers.Dense(10, kernel_initializer=_seeded("glorot_uniform", seed, 0), name="output")(x)
    if name is None:
        name = f"cnn_w{width:g}_d{depth}" + ("_res" if residual else "")
    return keras.Model(inputs, outputs, name=name.replace(".", "p"))
