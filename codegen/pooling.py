"""A global pooling layer after the recurrent stack → params and state of
``tinyrnn_global_pool1d_s8`` (see its header).

It runs with the stack: each time the last recurrent layer steps, its h goes into the
pool (a sum or maximum and a count in the model state) and the head reads the pool's
result so far, so the step API and ``_run`` agree as they do without it. In a
whole-window model (``model_window.c.j2``) it pools the last layer's T output rows.
"""

from __future__ import annotations

from tinyrnn.codegen.checks import check_range
from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.ir import POOLS, GlobalPool1DLayer


def global_pool_entry(layer: GlobalPool1DLayer, k: int, prefix: str, where: str, source: str) -> dict:
    """Template entry: params struct, kernel call arguments, state members (ctype, field,
    length, reset value, comment) and ``out``, the member the head reads."""
    if layer.pool not in POOLS:
        raise TinyrnnError(f"{where}: pool {layer.pool!r} unknown (one of {', '.join(POOLS)})")
    zp = int(layer.input_zero_point)
    check_range(where, "input_zero_point", zp, -128, 127)
    average = layer.pool == "average"
    acc, count, out = f"l{k}_acc", f"l{k}_count", f"l{k}_out"
    state = [("int32_t", acc, layer.input_size, 0 if average else -128,
              f"{where}: {'sum' if average else 'maximum'} of the steps so far"),
             ("int32_t", count, 1, 0, f"{where}: steps pooled"),
             ("int8_t", out, layer.input_size, zp, f"{where}: pooled output (the zero point before a step)")]
    return {"params": f"{prefix}_params", "ctype": "tinyrnn_global_pool1d_s8_params",
            "comment": f"{where}: {layer.pool}",
            "fields": {"channels": layer.input_size, "average": int(average)}, "state": state, "out": out,
            "kernel": "tinyrnn_global_pool1d_s8_step", "acc": f"st->{acc}, st->{count}",
            "args": f"st->{acc}, st->{count}, {source}, st->{out}"}
