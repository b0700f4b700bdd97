"""A corpus of small Keras models, built in code (seeded, untrained: the math is what is
checked), covering every layer and option the importer accepts or refuses.

Each entry: name → (builder, expected). ``builder(keras)`` returns a Keras model on
(STEPS, FEATURES) inputs; ``expected`` is None (accepted) or a regex of the one-line
refusal, which must name the layer (or the outputs/inputs) at fault. ``OUTPUT`` names
the ``--output`` of multi-output entries. Used by tests/test_corpus.py and
benchmarks/corpus.py (which trains them on HAR).
"""

from __future__ import annotations

import numpy as np

STEPS, FEATURES, CLASSES = 16, 3, 3
OUTPUT = {"two_heads_output_cls": "cls"}


def configure(steps: int, features: int, classes: int) -> None:
    """Other input and output sizes for every builder (benchmarks/corpus.py: HAR's)."""
    global STEPS, FEATURES, CLASSES
    STEPS, FEATURES, CLASSES = steps, features, classes


def _seq(k, *layers):
    return k.Sequential([k.Input((STEPS, FEATURES)), *layers])


def _functional_reordered(k):
    # Layers created (and listed) in another order than the graph runs them.
    head, rnn = k.layers.Dense(CLASSES, name="head"), k.layers.LSTM(8, name="rnn")
    drop = k.layers.Dropout(0.2, name="drop")
    inp = k.Input((STEPS, FEATURES))
    return k.Model(inp, head(drop(rnn(inp))))


def _two_heads(k):
    inp = k.Input((STEPS, FEATURES))
    h = k.layers.GRU(8, name="gru")(inp)
    return k.Model(inp, [k.layers.Dense(1, name="reg")(h), k.layers.Dense(CLASSES, name="cls")(h)])


def _skip(k):
    inp = k.Input((STEPS, FEATURES))
    h = k.layers.LSTM(FEATURES, return_sequences=True, name="rnn")(inp)
    s = k.layers.Add(name="add")([inp, h])
    return k.Model(inp, k.layers.Dense(CLASSES)(k.layers.LSTM(4)(s)))


def _concat(k):
    inp = k.Input((STEPS, FEATURES))
    a, b = k.layers.LSTM(4, name="a")(inp), k.layers.GRU(4, name="b")(inp)
    return k.Model(inp, k.layers.Dense(CLASSES)(k.layers.Concatenate(name="cat")([a, b])))


def _shared(k):
    inp = k.Input((STEPS, FEATURES))
    d = k.layers.Dense(FEATURES, name="shared")
    return k.Model(inp, k.layers.Dense(CLASSES)(k.layers.LSTM(4)(d(d(inp)))))


def _two_inputs(k):
    a, b = k.Input((STEPS, FEATURES), name="a"), k.Input((STEPS, FEATURES), name="b")
    return k.Model([a, b], k.layers.Dense(CLASSES)(k.layers.LSTM(4)(k.layers.Add()([a, b]))))


def _nested(k):
    inner = k.Sequential([k.Input((STEPS, FEATURES)), k.layers.LSTM(4)], name="inner")
    inp = k.Input((STEPS, FEATURES))
    return k.Model(inp, k.layers.Dense(CLASSES)(inner(inp)))


def _bn(k, name="bn"):
    return k.layers.BatchNormalization(name=name)


ACCEPTED = {
    "lstm_dense": lambda k: _seq(k, k.layers.LSTM(8), k.layers.Dense(CLASSES)),
    "gru_softmax": lambda k: _seq(k, k.layers.GRU(8), k.layers.Dense(CLASSES, activation="softmax")),
    "gru_reset_before": lambda k: _seq(k, k.layers.GRU(6, reset_after=False), k.layers.Dense(CLASSES)),
    "lstm_no_bias": lambda k: _seq(k, k.layers.LSTM(6, use_bias=False), k.layers.Dense(CLASSES)),
    "rnn_tanh": lambda k: _seq(k, k.layers.SimpleRNN(8), k.layers.Dense(CLASSES)),
    "rnn_relu": lambda k: _seq(k, k.layers.SimpleRNN(8, activation="relu"), k.layers.Dense(CLASSES)),
    "stack_lstm_gru_rnn": lambda k: _seq(k, k.layers.LSTM(8, return_sequences=True),
                                         k.layers.GRU(6, return_sequences=True), k.layers.SimpleRNN(5),
                                         k.layers.Dense(CLASSES)),
    "normalization_lstm": lambda k: _seq(k, k.layers.Normalization(mean=np.linspace(-1.0, 2.0, FEATURES),
                                                                   variance=np.linspace(0.25, 4.0, FEATURES)),
                                         k.layers.LSTM(8), k.layers.Dense(CLASSES)),
    "masking_gru": lambda k: _seq(k, k.layers.Masking(0.0), k.layers.GRU(8), k.layers.Dense(CLASSES)),
    "identity_layers": lambda k: _seq(k, k.layers.GaussianNoise(0.1), k.layers.SpatialDropout1D(0.1),
                                      k.layers.LSTM(8), k.layers.Dropout(0.3), k.layers.GaussianDropout(0.1),
                                      k.layers.Dense(8), k.layers.AlphaDropout(0.1),
                                      k.layers.ActivityRegularization(0.01), k.layers.Dense(CLASSES)),
    "dense_relu_hidden": lambda k: _seq(k, k.layers.LSTM(8), k.layers.Dense(8, activation="relu"), k.layers.Dense(CLASSES)),
    "dense_relu6_hidden": lambda k: _seq(k, k.layers.LSTM(8), k.layers.Dense(8, activation="relu6"), k.layers.Dense(CLASSES)),
    "dense_sigmoid_hidden": lambda k: _seq(k, k.layers.GRU(8), k.layers.Dense(8, activation="sigmoid"),
                                           k.layers.Dense(CLASSES)),
    "dense_tanh_hidden": lambda k: _seq(k, k.layers.LSTM(8), k.layers.Dense(8, activation="tanh"), k.layers.Dense(CLASSES)),
    "dense_softmax_hidden": lambda k: _seq(k, k.layers.LSTM(8), k.layers.Dense(6, activation="softmax"),
                                           k.layers.Dense(CLASSES)),
    "activation_layer": lambda k: _seq(k, k.layers.LSTM(8), k.layers.Dense(8), k.layers.Activation("tanh"),
                                       k.layers.Dense(CLASSES)),
    "relu_layers": lambda k: _seq(k, k.layers.LSTM(8), k.layers.Dense(8), k.layers.ReLU(), k.layers.Dense(8),
                                  k.layers.ReLU(max_value=6.0), k.layers.Dense(CLASSES)),
    "softmax_layer_head": lambda k: _seq(k, k.layers.GRU(8), k.layers.Dense(CLASSES), k.layers.Softmax()),
    "sigmoid_binary_head": lambda k: _seq(k, k.layers.LSTM(8), k.layers.Dense(1, activation="sigmoid")),
    "regression_head": lambda k: _seq(k, k.layers.GRU(8), k.layers.Dense(2)),
    "time_distributed": lambda k: _seq(k, k.layers.LSTM(8, return_sequences=True),
                                       k.layers.TimeDistributed(k.layers.Dense(CLASSES))),
    "sequence_dense": lambda k: _seq(k, k.layers.GRU(8, return_sequences=True), k.layers.Dense(CLASSES)),
    "batchnorm_input": lambda k: _seq(k, _bn(k), k.layers.LSTM(8), k.layers.Dense(CLASSES)),
    "batchnorm_after_dense": lambda k: _seq(k, k.layers.LSTM(8), k.layers.Dense(8), _bn(k), k.layers.Activation("relu"),
                                            k.layers.Dense(CLASSES)),
    "conv_causal_lstm": lambda k: _seq(k, k.layers.Conv1D(8, 3, padding="causal", activation="relu"),
                                       k.layers.Conv1D(6, 2, dilation_rate=2), k.layers.LSTM(8),
                                       k.layers.Dense(CLASSES)),
    "conv_pool_gru": lambda k: _seq(k, k.layers.Conv1D(8, 3, padding="causal", activation="relu"),
                                    k.layers.MaxPooling1D(2), k.layers.GRU(8), k.layers.Dense(CLASSES)),
    "gru_global_max": lambda k: _seq(k, k.layers.GRU(8, return_sequences=True), k.layers.GlobalMaxPooling1D(),
                                     k.layers.Dropout(0.1), k.layers.Dense(CLASSES)),
    "conv_lstm_global_average": lambda k: _seq(k, k.layers.Conv1D(8, 3, activation="relu"), k.layers.MaxPooling1D(2),
                                               k.layers.LSTM(8, return_sequences=True),
                                               k.layers.GlobalAveragePooling1D(), k.layers.Dense(CLASSES)),
    "conv_same_lstm_global_average": lambda k: _seq(k, k.layers.Conv1D(8, 4, padding="same", activation="relu"),
                                                    k.layers.Conv1D(6, 3, padding="same", dilation_rate=2),
                                                    k.layers.LSTM(8, return_sequences=True),
                                                    k.layers.GlobalAveragePooling1D(), k.layers.Dense(CLASSES)),
    "conv_pool_lstm_flatten": lambda k: _seq(k, k.layers.Conv1D(4, 3), k.layers.AveragePooling1D(2),
                                             k.layers.LSTM(4, return_sequences=True), k.layers.Flatten(),
                                             k.layers.Dense(CLASSES)),
    "functional_reordered": _functional_reordered,
    "two_heads_output_cls": _two_heads,
}

REFUSED = {
    "two_heads": (_two_heads, r"model has 2 outputs \(reg, cls\): choose one with --output NAME"),
    "skip_connection": (_skip, r"layer 'add' \(Add\): takes 2 inputs"),
    "concat_branches": (_concat, r"layer 'cat' \(Concatenate\): takes 2 inputs"),
    "shared_layer": (_shared, r"layer 'shared' \(Dense\): shared layer"),
    "two_inputs": (_two_inputs, r"model has 2 inputs \(a, b\)"),
    "nested_model": (_nested, r"layer 'inner' \(Sequential\): nested models"),
    "bidirectional_masked": (lambda k: _seq(k, k.layers.Masking(0.0), k.layers.Bidirectional(k.layers.LSTM(4), name="bi"),
                                            k.layers.Dense(CLASSES)),
                             r"layer 'bi' \(Bidirectional\): a Masking layer before Bidirectional is not supported"),
    "conv1d_same_strided": (lambda k: _seq(k, k.layers.Conv1D(4, 3, padding="same", strides=2, name="conv"),
                                           k.layers.LSTM(4), k.layers.Dense(CLASSES)),
                            r"layer 'conv' \(Conv1D\): option padding='same' with strides > 1 is not supported"),
    "stateful": (lambda k: k.Sequential([k.Input(batch_shape=(2, STEPS, FEATURES)), k.layers.GRU(4, stateful=True, name="g"),
                                         k.layers.Dense(CLASSES)]), r"layer 'g' \(GRU\): option stateful=True"),
    "go_backwards": (lambda k: _seq(k, k.layers.LSTM(4, go_backwards=True, name="l"), k.layers.Dense(CLASSES)),
                     r"layer 'l' \(LSTM\): option go_backwards=True"),
    "lstm_relu": (lambda k: _seq(k, k.layers.LSTM(4, activation="relu", name="l"), k.layers.Dense(CLASSES)),
                  r"layer 'l' \(LSTM\): option activation='relu'"),
    "dense_gelu": (lambda k: _seq(k, k.layers.LSTM(4), k.layers.Dense(4, activation="gelu", name="d"),
                                  k.layers.Dense(CLASSES)), r"layer 'd' \(Dense\): option activation='gelu'"),
    "leaky_relu": (lambda k: _seq(k, k.layers.LSTM(4), k.layers.Dense(4), k.layers.LeakyReLU(name="lr"),
                                  k.layers.Dense(CLASSES)), r"layer 'lr' \(LeakyReLU\): unsupported layer type"),
    "relu_slope": (lambda k: _seq(k, k.layers.LSTM(4), k.layers.Dense(4), k.layers.ReLU(negative_slope=0.1, name="r"),
                                  k.layers.Dense(CLASSES)), r"layer 'r' \(ReLU\): options .*negative_slope=0.1"),
    "activation_after_lstm": (lambda k: _seq(k, k.layers.LSTM(4, name="l"), k.layers.Activation("relu", name="act"),
                                             k.layers.Dense(CLASSES)),
                              r"layer 'act' \(Activation\): is only supported directly after a Dense"),
    "batchnorm_after_lstm": (lambda k: _seq(k, k.layers.LSTM(4), _bn(k, "bn_l"), k.layers.Dense(CLASSES)),
                             r"layer 'bn_l' \(BatchNormalization\): is only supported before the first layer"),
    "batchnorm_after_relu_dense": (lambda k: _seq(k, k.layers.LSTM(4), k.layers.Dense(4, activation="relu", name="d"),
                                                  _bn(k, "bn_d"), k.layers.Dense(CLASSES)),
                                   r"layer 'bn_d' \(BatchNormalization\): follows Dense 'd' with activation 'relu'"),
    "masking_late": (lambda k: _seq(k, k.layers.Dense(FEATURES), k.layers.Masking(name="mask"), k.layers.LSTM(4),
                                    k.layers.Dense(CLASSES)),
                     r"layer 'mask' \(Masking\): Masking is only supported as the first layer"),
    "normalization_late": (lambda k: _seq(k, k.layers.LSTM(4, return_sequences=True),
                                          k.layers.Normalization(mean=0.0, variance=1.0, name="norm"),
                                          k.layers.LSTM(4), k.layers.Dense(CLASSES)),
                           r"layer 'norm' \(Normalization\): Normalization is only supported directly after the input"),
    "time_distributed_dropout": (lambda k: _seq(k, k.layers.LSTM(4, return_sequences=True),
                                                k.layers.TimeDistributed(k.layers.Dropout(0.1), name="td"),
                                                k.layers.Dense(CLASSES)),
                                 r"layer 'td' \(TimeDistributed\): wraps Dropout"),
    "global_pool_masked": (lambda k: _seq(k, k.layers.Masking(0.0), k.layers.LSTM(4, return_sequences=True),
                                          k.layers.GlobalAveragePooling1D(name="gap"), k.layers.Dense(CLASSES)),
                           r"layer 'gap' \(GlobalAveragePooling1D\): a Masking layer before it is not supported"),
    "global_pool_after_dense": (lambda k: _seq(k, k.layers.LSTM(4, return_sequences=True), k.layers.Dense(4),
                                               k.layers.GlobalMaxPooling1D(name="gmp"), k.layers.Dense(CLASSES)),
                                r"layer 'gmp' \(GlobalMaxPooling1D\): is only supported directly after a recurrent "
                                r"layer with return_sequences=True"),
    "global_pool_keepdims": (lambda k: _seq(k, k.layers.LSTM(4, return_sequences=True),
                                            k.layers.GlobalAveragePooling1D(keepdims=True, name="gap"),
                                            k.layers.Dense(CLASSES)),
                             r"layer 'gap' \(GlobalAveragePooling1D\): option keepdims=True"),
    "dense_before_lstm": (lambda k: _seq(k, k.layers.Dense(4, name="pre"), k.layers.LSTM(4, name="l"),
                                         k.layers.Dense(CLASSES)),
                          r"layer 'l': a recurrent layer after a Dense layer is not supported"),
    "no_recurrent": (lambda k: _seq(k, k.layers.Dense(4), k.layers.Dense(CLASSES)), r"model has no LSTM, GRU or SimpleRNN"),
}


def build(keras, name: str, seed: int = 0):
    """The corpus model ``name``, its weights and biases randomized (Keras zeroes biases)."""
    keras.utils.set_random_seed(seed)
    builder = ACCEPTED[name] if name in ACCEPTED else REFUSED[name][0]
    model = builder(keras)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if type(layer).__name__ == "BatchNormalization":  # gamma, beta, moving mean, moving variance
            weights = [rng.uniform(0.5, 1.5, w.shape) if k in (0, 3) else rng.normal(0, 0.3, w.shape)
                       for k, w in enumerate(weights)]
        elif weights:
            weights[-1] = weights[-1] + rng.normal(scale=0.3, size=weights[-1].shape)
        layer.set_weights([np.asarray(w, np.float32) for w in weights])
    return model


def data(n: int = 96, seed: int = 0, masked: bool = False):
    """Inputs (n, STEPS, FEATURES) with unequal channel ranges; ``masked``: post-padded with zeros."""
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(n, STEPS, FEATURES)) * [0.5, 1.0, 2.0] + [0.0, 1.0, -0.5]).astype(np.float32)
    if masked:
        lengths = rng.integers(STEPS // 2, STEPS + 1, n)
        x[np.arange(STEPS)[None, :] >= lengths[:, None]] = 0.0
    return x, rng.integers(0, CLASSES, n)
