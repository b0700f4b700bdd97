"""Worst-case stack of the model's API calls, from GCC's ``-fcallgraph-info=su``.

Each compiled file yields a call graph (VCG text) whose nodes carry the function's own
frame ("N bytes (static)"); the worst case of an entry point is the deepest path through
the merged graphs of all the model's files. Functions defined outside them (the C
library's memcpy/memset, when not inlined) carry no figure and count 0: they are listed
so the caller can say so. Dynamic frames or recursion make the figure unknown (None).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

_NODE = re.compile(r'node: \{ title: "([^"]+)" label: "[^"]*?(?:\\n(\d+) bytes \(([a-z,]+)\))?"')
_EDGE = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')


def parse_callgraphs(texts) -> tuple[dict, dict]:
    """({function: (frame bytes or None, qualifier)}, {function: set of callees})."""
    frames, calls = {}, {}
    for text in texts:
        for title, size, qualifier in _NODE.findall(text):
            if size:
                frames[title] = (int(size), qualifier)
            else:
                frames.setdefault(title, (None, ""))
        for src, dst in _EDGE.findall(text):
            calls.setdefault(src, set()).add(dst)
    return frames, calls


def worst_path(entry: str, frames: dict, calls: dict) -> tuple[int | None, set]:
    """(deepest stack from ``entry`` in bytes, or None if unbounded; external callees)."""
    external: set = set()
    memo: dict = {}

    def depth(fn: str, active: frozenset):
        if fn in active:
            return None  # recursion: no static bound
        if fn in memo:
            return memo[fn]
        size, qualifier = frames.get(fn, (None, ""))
        if size is None:
            external.add(fn)
            size = 0
        elif qualifier != "static" and "bounded" not in qualifier:
            return None
        below = [depth(c, active | {fn}) for c in sorted(calls.get(fn, ()))]
        result = None if None in below else size + max(below, default=0)
        memo[fn] = result
        return result

    return depth(entry, frozenset()), external


def measure(sources, include_dir, cc: str, flags, entries) -> dict | None:
    """Compile ``sources`` with ``cc flags -fcallgraph-info=su`` and return
    {"bytes": worst over ``entries``, "per_function": {entry: bytes}, "not_counted":
    [external callees]}; None when the compiler is missing or the bound is unknown."""
    if shutil.which(cc) is None:
        return None
    with tempfile.TemporaryDirectory(prefix="tinyrnn-stack-") as tmp:
        procs = [subprocess.Popen([cc, *flags, "-fcallgraph-info=su", f"-I{include_dir}", "-c", str(src), "-o",
                                   str(Path(tmp) / (Path(src).stem + ".o"))],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for src in sources]
        if any(p.wait() != 0 for p in procs):
            return None
        frames, calls = parse_callgraphs(p.read_text() for p in sorted(Path(tmp).glob("*.ci")))
    per_function, external = {}, set()
    for entry in entries:
        size, ext = worst_path(entry, frames, calls)
        if size is None:
            return None
        per_function[entry], external = size, external | ext
    return {"bytes": max(per_function.values()), "per_function": per_function, "not_counted": sorted(external)}
