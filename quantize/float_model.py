"""A numpy float description of a supported model and its forward pass.

The Keras importer fills it; calibration and reports run it. Keeping it in numpy
means calibration, SQNR and error-over-time need no TensorFlow once imported, and
the float math is written out next to the integer math it is compared with.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tinyrnn.core.activations import activate, sigmoid
from tinyrnn.core.ir import TABLE_ACTIVATIONS, conv_padding, valid_steps


@dataclass
class FloatLSTM:
    name: str
    kernel: np.ndarray  # (I, 4H), Keras gate order i, f, c, o
    recurrent_kernel: np.ndarray  # (H, 4H)
    bias: np.ndarray  # (4H,)
    return_sequences: bool
    kind: str = "lstm"

    @property
    def units(self) -> int:
        return self.recurrent_kernel.shape[0]

    def gate_weights(self, g: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(W_x (H, I), W_h (H, H), b (H,)) of gate g in i, f, c, o order."""
        h = self.units
        cols = slice(g * h, (g + 1) * h)
        return self.kernel[:, cols].T, self.recurrent_kernel[:, cols].T, self.bias[cols]

    def run(self, x: np.ndarray, trace: dict | None = None, valid: np.ndarray | None = None) -> np.ndarray:
        """x (N, T, I) → h (N, T, H); ``trace`` collects gates (pre-activation), c, h per step;
        ``valid`` (N, T) bool: a False step keeps h and c (Keras masking)."""
        n, steps, _ = x.shape
        units = self.units
        h = np.zeros((n, units), np.float64)
        c = np.zeros((n, units), np.float64)
        out = np.empty((n, steps, units), np.float64)
        xk = x.astype(np.float64) @ self.kernel + self.bias
        for t in range(steps):
            z = xk[:, t] + h @ self.recurrent_kernel
            zi, zf, zc, zo = np.split(z, 4, axis=1)
            c_new = sigmoid(zf) * c + sigmoid(zi) * np.tanh(zc)
            h_new = sigmoid(zo) * np.tanh(c_new)
            keep = True if valid is None else valid[:, t, None]
            c, h = np.where(keep, c_new, c), np.where(keep, h_new, h)
            out[:, t] = h
            if trace is not None:
                for key, value in (("gates", z), ("cell", c), ("hidden", h)):
                    trace.setdefault(key, []).append(value)
        return out


@dataclass
class FloatGRU:
    name: str
    kernel: np.ndarray  # (I, 3H), Keras gate order z, r, h
    recurrent_kernel: np.ndarray  # (H, 3H)
    input_bias: np.ndarray  # (3H,)
    recurrent_bias: np.ndarray  # (3H,), zeros unless reset_after
    return_sequences: bool
    reset_after: bool
    kind: str = "gru"

    @property
    def units(self) -> int:
        return self.recurrent_kernel.shape[0]

    def gate_weights(self, g: int):
        """(W_x (H, I), W_h (H, H), input bias (H,), recurrent bias (H,)) of gate g in z, r, h order."""
        cols = slice(g * self.units, (g + 1) * self.units)
        return self.kernel[:, cols].T, self.recurrent_kernel[:, cols].T, self.input_bias[cols], self.recurrent_bias[cols]

    def run(self, x: np.ndarray, trace: dict | None = None, valid: np.ndarray | None = None) -> np.ndarray:
        """As FloatLSTM.run (no cell state)."""
        n, steps, _ = x.shape
        units = self.units
        h = np.zeros((n, units), np.float64)
        out = np.empty((n, steps, units), np.float64)
        xk = x.astype(np.float64) @ self.kernel + self.input_bias
        u_zr, u_h = self.recurrent_kernel[:, : 2 * units], self.recurrent_kernel[:, 2 * units :]
        for t in range(steps):
            xz, xr, xh = np.split(xk[:, t], 3, axis=1)
            hz, hr = np.split(h @ u_zr + self.recurrent_bias[: 2 * units], 2, axis=1)
            z, r = sigmoid(xz + hz), sigmoid(xr + hr)
            if self.reset_after:
                pre_h = xh + r * (h @ u_h + self.recurrent_bias[2 * units :])
            else:
                pre_h = xh + (r * h) @ u_h
            h = np.where(True if valid is None else valid[:, t, None], z * h + (1.0 - z) * np.tanh(pre_h), h)
            out[:, t] = h
            if trace is not None:
                trace.setdefault("gates", []).append(np.concatenate([xz + hz, xr + hr, pre_h], axis=1))
                trace.setdefault("hidden", []).append(h)
        return out


@dataclass
class FloatSimpleRNN:
    name: str
    kernel: np.ndarray  # (I, H)
    recurrent_kernel: np.ndarray  # (H, H)
    bias: np.ndarray  # (H,)
    activation: str  # tanh | relu
    return_sequences: bool
    kind: str = "rnn"

    @property
    def units(self) -> int:
        return self.recurrent_kernel.shape[0]

    def gate_weights(self, g: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(W_x (H, I), W_h (H, H), b (H,)): the one "gate" (the pre-activation), as LSTM/GRU name theirs."""
        return self.kernel.T, self.recurrent_kernel.T, self.bias

    def run(self, x: np.ndarray, trace: dict | None = None, valid: np.ndarray | None = None) -> np.ndarray:
        """x (N, T, I) → h (N, T, H); ``trace`` collects the pre-activation ("gates") and h per step;
        ``valid`` as FloatLSTM.run."""
        n, steps, _ = x.shape
        h = np.zeros((n, self.units), np.float64)
        out = np.empty((n, steps, self.units), np.float64)
        xk = x.astype(np.float64) @ self.kernel + self.bias
        for t in range(steps):
            pre = xk[:, t] + h @ self.recurrent_kernel
            h_new = np.tanh(pre) if self.activation == "tanh" else np.maximum(pre, 0.0)
            h = h_new if valid is None else np.where(valid[:, t, None], h_new, h)
            out[:, t] = h
            if trace is not None:
                trace.setdefault("gates", []).append(pre)
                trace.setdefault("hidden", []).append(h)
        return out


MERGES = {"concat": lambda f, b: np.concatenate([f, b], axis=-1), "sum": np.add,
          "ave": lambda f, b: (f + b) / 2.0, "mul": np.multiply}


@dataclass
class FloatBidirectional:
    """Keras Bidirectional over two recurrent twins (``backward`` runs on the reversed window).

    ``run`` gives (N, T, W) aligned with time when the layer returns sequences, else
    (N, 1, W): the merge of both final states (``[:, -1]`` is the output either way).
    ``trace`` gets "forward" and "backward" (each direction's own trace) and "merged".
    """

    name: str
    forward: object  # FloatLSTM | FloatGRU | FloatSimpleRNN
    backward: object
    merge_mode: str
    kind: str = "bidirectional"

    @property
    def return_sequences(self) -> bool:
        return self.forward.return_sequences

    @property
    def units(self) -> int:
        return self.forward.units * (2 if self.merge_mode == "concat" else 1)

    def run(self, x: np.ndarray, trace: dict | None = None, valid: np.ndarray | None = None) -> np.ndarray:
        traces = ({}, {}) if trace is not None else (None, None)
        fwd = self.forward.run(x, traces[0], valid)
        bwd = self.backward.run(x[:, ::-1], traces[1], None if valid is None else valid[:, ::-1])
        f, b = (fwd, bwd[:, ::-1]) if self.return_sequences else (fwd[:, -1:], bwd[:, -1:])
        out = MERGES[self.merge_mode](f, b)
        if trace is not None:
            trace.update(forward=traces[0], backward=traces[1], merged=[out])
        return out


@dataclass
class FloatDense:
    name: str
    kernel: np.ndarray  # (I, O)
    bias: np.ndarray  # (O,)
    activation: str
    kind: str = "dense"

    @property
    def units(self) -> int:
        return self.kernel.shape[1]

    def logits(self, x: np.ndarray) -> np.ndarray:
        return x.astype(np.float64) @ self.kernel + self.bias

    def run(self, x: np.ndarray, trace: dict | None = None, *, last: bool = True) -> np.ndarray:
        """Dense + activation, as Keras computes it. The model's ``last`` layer (the
        default: a lone head) stops at the pre-activation of sigmoid/tanh/softmax, as the
        int8 logits do (``meta.float_activation`` says what eval applies); relu and relu6
        clamp in any position. ``trace["logits"]`` gets the pre-activation (calibration)."""
        z = self.logits(x)
        if trace is not None:
            trace.setdefault("logits", []).append(z)
        if last and self.activation in TABLE_ACTIVATIONS:
            return z
        return activate(self.activation, z)


@dataclass
class FloatConv1D(FloatDense):
    """Keras Conv1D (channels_last): the Dense of a window of kernel_size taps, oldest first.

    "causal" pads the front with zeros (the layer input's real 0), "same" (strides 1) half
    of them (rounded down) in front and the rest behind; "valid" gives ``span − 1`` fewer
    steps. ``run`` (Dense's) applies linear/relu/relu6 and traces the pre-activation as "logits".
    """

    kernel: np.ndarray  # (kernel_size, I, O), Keras layout
    dilation: int = 1
    padding: str = "valid"
    kind: str = "conv1d"
    strides: int = 1

    @property
    def units(self) -> int:
        return self.kernel.shape[2]

    @property
    def span(self) -> int:
        return (self.kernel.shape[0] - 1) * self.dilation + 1

    def logits(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float64)
        left, right = conv_padding(self.padding, self.span)
        x = np.concatenate([np.zeros((x.shape[0], left, x.shape[2])), x, np.zeros((x.shape[0], right, x.shape[2]))],
                           axis=1)
        starts = np.arange(0, max(x.shape[1] - self.span + 1, 0), self.strides)
        return sum(x[:, starts + j * self.dilation] @ w for j, w in enumerate(self.kernel)) + self.bias


def traced(y: np.ndarray, trace: dict | None) -> np.ndarray:
    """``y``, also appended to ``trace["output"]`` (a layer whose one tensor is its output)."""
    if trace is not None:
        trace.setdefault("output", []).append(y)
    return y


@dataclass
class FloatPool1D:
    """Keras MaxPooling1D / AveragePooling1D, padding "valid"."""

    name: str
    pool: str  # max | average
    pool_size: int
    strides: int
    kind: str = "pool1d"

    def run(self, x: np.ndarray, trace: dict | None = None, *, last: bool = False) -> np.ndarray:
        x = np.asarray(x, np.float64)
        starts = np.arange(0, max(x.shape[1] - self.pool_size + 1, 0), self.strides)
        windows = np.stack([x[:, starts + j] for j in range(self.pool_size)])
        return traced(windows.max(axis=0) if self.pool == "max" else windows.mean(axis=0), trace)


@dataclass
class FloatGlobalPool1D:
    """Keras GlobalMaxPooling1D / GlobalAveragePooling1D (keepdims False): (N, T, C) → (N, C)."""

    name: str
    pool: str  # max | average
    kind: str = "global_pool1d"

    def run(self, x: np.ndarray, trace: dict | None = None, *, last: bool = False) -> np.ndarray:
        x = np.asarray(x, np.float64)
        return traced(x.max(axis=1) if self.pool == "max" else x.mean(axis=1), trace)


@dataclass
class FloatFlatten:
    """Keras Flatten of a (steps, C) sequence: (N, steps, C) → (N, steps·C), time-major
    (``window``: the model input's fixed length)."""

    name: str
    steps: int
    window: int
    kind: str = "flatten"

    def run(self, x: np.ndarray, trace: dict | None = None, *, last: bool = False) -> np.ndarray:
        return traced(np.asarray(x, np.float64).reshape(x.shape[0], -1), trace)


# Layers without state in the float whole-window pass: run(x, trace, last=...).
FEEDFORWARD = ("dense", "conv1d", "pool1d", "global_pool1d", "flatten")


@dataclass
class FloatModel:
    name: str
    input_shape: tuple  # (T, F); T may be None
    mean: np.ndarray  # (F,) Normalization folded in (0 if none)
    std: np.ndarray  # (F,) (1 if none)
    layers: list
    source: dict = field(default_factory=dict)
    mask_value: float | None = None  # Keras Masking on the raw input (see tinyrnn.core.ir.valid_steps)
    keras_layers: list = field(default_factory=list)  # per layer: the Keras layer whose output it equals

    def normalize(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, np.float64) - self.mean) / self.std

    def valid_steps(self, x: np.ndarray) -> np.ndarray | None:
        return valid_steps(x, self.mask_value)

    def layer_outputs(self, x: np.ndarray, traces: list | None = None):
        """Each layer's output on raw inputs (N, T, F), in order (see ``run``)."""
        y, valid = self.normalize(x), self.valid_steps(x)
        for k, layer in enumerate(self.layers):
            trace = {} if traces is not None else None
            if layer.kind in FEEDFORWARD:
                y = layer.run(y, trace, last=k == len(self.layers) - 1)
            else:
                seq = layer.run(y, trace, valid)
                y = seq if layer.return_sequences else seq[:, -1]
            if traces is not None:
                traces.append(trace)
            yield y

    def run(self, x: np.ndarray, traces: list | None = None) -> np.ndarray:
        """Float forward pass on raw inputs (N, T, F) → outputs before the last layer's
        sigmoid/tanh/softmax (hidden Dense layers apply theirs).

        Recurrent layers with return_sequences=False pass on their last step; Dense
        layers apply per step to sequences. ``traces`` gets one dict per layer.
        """
        *_, y = self.layer_outputs(x, traces)
        return y
