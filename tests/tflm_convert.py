"""Build small tf_keras LSTM models and convert them to int8 ``.tflite`` (run as a script).

``python tests/tflm_convert.py specs.json data.npz outdir``: ``specs.json`` is a list of
``{"name", "units": [H, ...], "dense": "per_tensor"|"per_channel"|null, "epochs"}``;
``data.npz`` holds ``x`` (N, T, F) float32 and ``y`` labels, optionally ``x_eval`` (float
references on it go to NAME.float.npz). Every LSTM but the last returns sequences;
without a Dense head the last one does too (the output is then every hidden state).
tf_keras (TF_USE_LEGACY_KERAS) so the converter fuses the LSTM; a fixed batch of 1 as
TFLM runs it. A subprocess because tf_keras must be selected before TensorFlow is
imported. Imported (not run) by ``test_tflm_referee.py`` and ``benchmarks/tflm_referee.py``
for ``float32_products`` (an imported model with tinyrnn's former gate multipliers, to
show what the referee catches) and ``to_16x8`` (TF 2.21's converter refuses 16x8 LSTMs).
"""

from __future__ import annotations

import json
import sys


def build(keras, spec: dict, x, classes: int):
    layers = [keras.Input(x.shape[1:]), keras.layers.Normalization(axis=-1)]
    units = spec["units"]
    for k, h in enumerate(units):
        layers.append(keras.layers.LSTM(h, return_sequences=k < len(units) - 1 or not spec["dense"]))
    if spec["dense"]:
        layers.append(keras.layers.Dense(classes, activation="softmax"))
    model = keras.Sequential(layers)
    model.layers[0].adapt(x)
    return model


def save_float(keras, model, x_eval, path: str) -> None:
    """Float logits, the last LSTM's final hidden state and the Dense head's weights."""
    import numpy as np

    lstm = [layer for layer in model.layers if isinstance(layer, keras.layers.LSTM)][-1]
    h = keras.Model(model.inputs, lstm.output).predict(x_eval, verbose=0)
    dense = model.layers[-1].get_weights() if isinstance(model.layers[-1], keras.layers.Dense) else [np.zeros(0)] * 2
    np.savez(path, logits=model.predict(x_eval, verbose=0), h_last=h if h.ndim == 2 else h[:, -1],
             dense_w=dense[0], dense_b=dense[1])


def convert(tf, model, x, spec: dict) -> bytes:
    fn = tf.function(lambda t: model(t))
    conc = fn.get_concrete_function(tf.TensorSpec((1,) + x.shape[1:], tf.float32))
    conv = tf.lite.TFLiteConverter.from_concrete_functions([conc], model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([x[i : i + 1]] for i in range(min(len(x), 64)))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv._experimental_disable_per_channel_quantization_for_dense_layers = spec["dense"] == "per_tensor"
    return conv.convert()


def float32_products(path, model):
    """(model with the LSTM gate multipliers from float32 products of the scales, the number
    of LSTM layers where that changes a multiplier)."""
    import dataclasses

    import numpy as np

    from tinyrnn.core.golden.fixedpoint import quantize_multiplier
    from tinyrnn.quantize.litert import read_tflite

    g = read_tflite(path)
    lstm_ops = [op for name, op in zip(g.ops, g.sub.operators) if name == "UNIDIRECTIONAL_SEQUENCE_LSTM"]
    layers, changed = list(model.layers), 0
    for k, op in enumerate(lstm_ops):  # the LSTMs come first in the IR, in graph order
        fields = {}
        for part, state_slot, w_slot in (("x", 0, 1), ("h", 18, 5)):
            s_in = g.scalar_quant(int(op.inputs[state_slot]), part)[0]
            pairs = [quantize_multiplier(float(np.float32(s_in) * g.quant(int(op.inputs[w_slot + gate]))[0][0]) / 2**-12)
                     for gate in range(4)]  # fmt: skip
            fields[f"gate_{part}_multiplier"] = np.array([m for m, _ in pairs], np.int32)
            fields[f"gate_{part}_shift"] = np.array([sh for _, sh in pairs], np.int32)
        changed += int(any(not np.array_equal(v, getattr(layers[k], n)) for n, v in fields.items()))
        layers[k] = dataclasses.replace(layers[k], **fields)
    return dataclasses.replace(model, layers=layers), changed


def to_16x8(src, dst) -> None:
    """A 16x8 copy of a converted int8 model's LSTM stack, which the TF 2.21 converter
    cannot make ("Quantization to 16x8-bit not yet supported for op
    UNIDIRECTIONAL_SEQUENCE_LSTM"): the graph keeps only its LSTM ops; their int8
    input/hidden tensors become symmetric int16 covering the same real range, and the
    int32 biases int64 at the new input scale (same real values). Weights, cell state
    and everything TFLM derives at Prepare stay as they were."""
    import flatbuffers
    import numpy as np
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(open(src, "rb").read(), 0)
    sub = model.subgraphs[0]
    code = schema.BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM
    sub.operators = [op for op in sub.operators if model.operatorCodes[op.opcodeIndex].builtinCode == code]
    new_scale: dict = {}

    def to_int16(i: int) -> None:
        t = sub.tensors[i]
        if i not in new_scale:
            s, zp = float(t.quantization.scale[0]), int(t.quantization.zeroPoint[0])
            new_scale[i] = (s, max(abs(-128 - zp), abs(127 - zp)) * s / 32767)
            t.type, t.quantization.scale, t.quantization.zeroPoint = schema.TensorType.INT16, [new_scale[i][1]], [0]
            if len(model.buffers[t.buffer].data if model.buffers[t.buffer].data is not None else []):
                model.buffers[t.buffer].data = np.zeros(2 * int(np.prod(t.shape)), np.uint8)

    for op in sub.operators:
        x, h, out = int(op.inputs[0]), int(op.inputs[18]), int(op.outputs[0])
        for i in (x, h, out):
            to_int16(i)
        ratio = new_scale[x][0] / new_scale[x][1]
        for b in (int(i) for i in op.inputs[12:16]):
            t = sub.tensors[b]
            if t.type == schema.TensorType.INT64:
                continue
            old = np.frombuffer(bytes(model.buffers[t.buffer].data), np.int32)
            new = np.frombuffer(np.round(old * ratio).astype("<i8").tobytes(), np.uint8)
            model.buffers.append(schema.BufferT())  # buffers may be shared between equal biases
            model.buffers[-1].data, t.buffer, t.type = new, len(model.buffers) - 1, schema.TensorType.INT64
            t.quantization.scale = [float(s) / ratio for s in t.quantization.scale]
    sub.inputs, sub.outputs = [int(sub.operators[0].inputs[0])], [int(sub.operators[-1].outputs[0])]
    builder = flatbuffers.Builder(1 << 16)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    open(dst, "wb").write(bytes(builder.Output()))


def main(spec_path: str, data_path: str, outdir: str) -> None:
    import numpy as np

    from tinyrnn.tfsupport import import_keras

    keras = import_keras(legacy=True)
    import tensorflow as tf

    data = np.load(data_path)
    x, y = data["x"].astype(np.float32), data["y"].astype(np.int64)
    classes = int(y.max()) + 1
    for spec in json.loads(open(spec_path).read()):
        keras.utils.set_random_seed(spec.get("seed", 0))
        model = build(keras, spec, x, classes)
        if spec["dense"] and spec.get("epochs", 0):
            model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
            model.fit(x, y, epochs=spec["epochs"], batch_size=32, verbose=0)
        with open(f"{outdir}/{spec['name']}.tflite", "wb") as fh:
            fh.write(convert(tf, model, x, spec))
        if "x_eval" in data.files:  # float references for the benchmark
            save_float(keras, model, data["x_eval"], f"{outdir}/{spec['name']}.float.npz")


if __name__ == "__main__":
    main(*sys.argv[1:4])
