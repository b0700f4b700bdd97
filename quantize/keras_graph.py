"""The chain of Keras layers a model computes, read from its layer graph (inbound nodes),
never from ``model.layers`` list order.

tinyrnn runs a chain: one input, one output, each layer fed by exactly the one before
it. Sequential models are chains by construction; a functional model is walked back
from its output. A model with several outputs is imported for the one named with
``--output NAME`` (its other heads are dropped); without it, it is refused naming them.
Merges (skip connections, concatenated branches), shared layers (one layer called
twice), several inputs and nested models are refused naming the layer.
"""

from __future__ import annotations

from tinyrnn.core.errors import TinyrnnError


def _name(tensor) -> str:
    return tensor._keras_history[0].name


def _refuse(layer, what: str) -> TinyrnnError:
    return TinyrnnError(f"layer '{layer.name}' ({type(layer).__name__}): {what}")


def _tensors(value) -> list:
    """The Keras tensors in a call argument (nested lists, tuples, dicts)."""
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v)]
    return [value] if hasattr(value, "_keras_history") else []


def _sources(node) -> list:
    """The tensors a call consumes; the implicit ``mask`` Keras propagates is not one
    (masks are judged where they arise: Masking, mask_zero)."""
    args = node.arguments
    return _tensors(list(args.args)) + _tensors({k: v for k, v in args.kwargs.items() if k != "mask"})


def output_names(model) -> list[str]:
    return [_name(t) for t in model.outputs]


def _select_output(model, output: str | None, where: str):
    names = output_names(model)
    if output is None:
        if len(names) != 1:
            raise TinyrnnError(f"{where}: model has {len(names)} outputs ({', '.join(names)}): "
                               f"choose one with --output NAME")
        return model.outputs[0]
    if output not in names:
        raise TinyrnnError(f"{where}: --output {output!r} is not an output of the model "
                           f"(outputs: {', '.join(names)})")
    return model.outputs[names.index(output)]


def chain(model, output: str | None = None, where: str = "model") -> list:
    """The layers from the input (excluded) to the chosen output, in computation order."""
    if not getattr(model, "inputs", None) or not getattr(model, "outputs", None):
        raise TinyrnnError(f"{where}: the model has no defined input/output (build it on an Input first)")
    if len(model.inputs) != 1:
        raise TinyrnnError(f"{where}: model has {len(model.inputs)} inputs "
                           f"({', '.join(_name(t) for t in model.inputs)}); tinyrnn runs one input")
    tensor = _select_output(model, output, where)
    inputs = {id(t) for t in model.inputs}
    layers = []
    while id(tensor) not in inputs:
        layer, node_index, _ = tensor._keras_history
        if type(layer).__name__ == "InputLayer":
            raise _refuse(layer, "a second input is not supported")
        if hasattr(layer, "layers") and hasattr(layer, "inputs"):
            raise _refuse(layer, "nested models are not supported (build one flat Sequential or functional model)")
        if any(seen is layer for seen in layers):  # (a count of inbound nodes also counts Keras's build calls)
            raise _refuse(layer, "shared layer (called more than once on the way to the output) is not supported")
        sources = _sources(layer._inbound_nodes[node_index])
        if len(sources) != 1:
            feeds = ", ".join(f"'{_name(t)}'" for t in sources)
            raise _refuse(layer, f"takes {len(sources)} inputs ({feeds}): branches and skip connections "
                                 f"are not supported")
        layers.append(layer)
        tensor = sources[0]
    return layers[::-1]
