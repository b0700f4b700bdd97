"""Keras is the referee of the float twin: the first link of the chain of trust.

``check`` runs the user's own Keras model (``predict``, float32) and the numpy float
twin (float64) on the same windows and compares them at the output of every twin
layer (each twin layer names the Keras layer whose output it reproduces). They must
agree within ``TOLERANCE · max(1, |keras|)`` per element, or the model is refused
naming the first layer that diverges and by how much.

Why 1e-4: the two differ only by float32 against float64 rounding. float32 keeps
24 bits (unit roundoff 6e-8); the error it leaves in a bounded recurrent state
(|h| < 1) grows about linearly with the steps and the width, to 1e-7..1e-5 on the
models in results/corpus.md (128 steps, up to 64 units). Every import mistake seen in
practice (a dropped activation, a misread gate order, a branch followed in list order,
an unfolded normalization) moves outputs by 1e-2 or more. Scaling by max(1, |keras|)
keeps large logits and regression outputs to the same relative precision.
"""

from __future__ import annotations

import numpy as np

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.activations import activate
from tinyrnn.quantize.float_model import FloatModel
from tinyrnn.tfsupport import import_keras

TOLERANCE = 1e-4
BATCH = 256


def _keras_taps(keras_model, names: list[str], x: np.ndarray) -> list[np.ndarray]:
    """The outputs of the named Keras layers on x, from one predict of a sub-model."""
    keras = import_keras()
    tap = keras.Model(keras_model.inputs, [keras_model.get_layer(n).output for n in names])
    out = tap.predict(np.asarray(x, np.float32), batch_size=BATCH, verbose=0)
    return [np.asarray(o, np.float64) for o in (out if isinstance(out, (list, tuple)) else [out])]


def twin_taps(model: FloatModel, x: np.ndarray) -> list[np.ndarray]:
    """Each twin layer's output; the last one after its activation, as Keras outputs it."""
    outs = list(model.layer_outputs(x))
    last = model.layers[-1]
    if last.kind == "dense":
        outs[-1] = activate(last.activation, outs[-1])
    return outs


def _worst(keras_out: np.ndarray, twin_out: np.ndarray) -> tuple[float, float]:
    """(max |Δ|, max |Δ| / max(1, |keras|)) over all elements."""
    diff = np.abs(keras_out - twin_out)
    return float(diff.max(initial=0.0)), float((diff / np.maximum(1.0, np.abs(keras_out))).max(initial=0.0))


def check(keras_model, model: FloatModel, x: np.ndarray, where: str = "model") -> dict:
    """The agreement figure (stored in the artifact's meta), or a TinyrnnError naming
    the first layer where the twin leaves Keras."""
    return compare(keras_model, model, x, where)[0]


def compare(keras_model, model: FloatModel, x: np.ndarray, where: str = "model") -> tuple[dict, np.ndarray]:
    """As ``check``, and Keras's own output on x (its predict: the referee's figures)."""
    if len(model.keras_layers) != len(model.layers):
        raise TinyrnnError(f"{where}: float twin has no Keras layer map (import it with keras_import)")
    per_layer, keras_outs = [], _keras_taps(keras_model, model.keras_layers, x)
    for name, twin, keras_out, twin_out in zip(model.keras_layers, model.layers, keras_outs, twin_taps(model, x)):
        if keras_out.shape != twin_out.shape:
            raise TinyrnnError(f"{where}: layer '{name}': Keras outputs shape {keras_out.shape[1:]}, the float twin "
                               f"{twin_out.shape[1:]}: tinyrnn would compute another model")
        abs_diff, rel_diff = _worst(keras_out, twin_out)
        if not rel_diff <= TOLERANCE:  # also catches NaN
            raise TinyrnnError(f"{where}: layer '{name}': float twin differs from Keras by {abs_diff:.3g} "
                               f"(relative {rel_diff:.3g} > tolerance {TOLERANCE:g}) on {len(x)} windows: "
                               f"tinyrnn would compute another model (please report it)")
        per_layer.append({"layer": name, "kind": twin.kind, "max_abs_diff": abs_diff, "max_rel_diff": rel_diff})
    agreement = {"windows": int(len(x)), "tolerance": TOLERANCE, "layers": per_layer,
                 "max_abs_diff": max(p["max_abs_diff"] for p in per_layer),
                 "max_rel_diff": max(p["max_rel_diff"] for p in per_layer)}
    return agreement, keras_outs[-1]


def summary(agreement: dict | None) -> str:
    """One line for eval/report/demo."""
    if not agreement:
        return "float twin vs Keras: not measured (not imported from a .keras model)"
    return (f"float twin == Keras predict within {agreement['max_abs_diff']:.2g} "
            f"(relative {agreement['max_rel_diff']:.2g} ≤ {agreement['tolerance']:g}) on {agreement['windows']} windows")
