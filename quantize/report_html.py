"""Render a report dict as one self-contained HTML page, and look at it in headless Chromium.

The page embeds its CSS and its plots (PNG data URIs) and carries a Content Security
Policy that forbids every fetch and all scripts: it opens from a mail attachment or
an air-gapped lab PC exactly as it was written, and a browser console stays silent
(any message there means something in the page tried to load or run).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile

import jinja2

import tinyrnn
from tinyrnn.quantize.report_plots import no_plots, render_plots

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--hide-scrollbars", "--enable-logging=stderr", "--v=0")  # fmt: skip
_CONSOLE = re.compile(r':CONSOLE[:(]\d*\)?\] "(.*)", source: (\S*)')


# ----------------------------------------------------------------------------- formatting


def fmt_num(v, digits: int = 4) -> str:
    if v is None:
        return "—"
    if isinstance(v, list):  # per-channel quantities are shown as their range
        return " … ".join(fmt_num(x, digits) for x in v) if len(v) == 2 else f"{len(v)} values"
    if isinstance(v, int):
        return f"{v:,}"
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
        return f"{v:.{digits - 1}e}"
    return f"{v:.{digits}g}"


def fmt_db(v) -> str:
    """SQNR: None means the integer values equal the float ones (no noise)."""
    return "exact" if v is None else f"{v:.1f} dB"


def fmt_pct(fraction, digits: int = 2) -> str:
    return "—" if fraction is None else f"{100.0 * fraction:.{digits}f} %"


def fmt_bytes(v) -> str:
    if v is None:
        return "—"
    return f"{int(v):,} B" if v < 1024 else f"{int(v):,} B ({v / 1024:.1f} KiB)"


def fmt_bytes_short(v) -> str:
    return "—" if v is None else (f"{int(v)} B" if v < 1024 else f"{v / 1024:.1f} KiB")


def sqnr_class(v) -> str:
    """Colour bands: ≥ 30 dB fine for int8, 20–30 dB worth a look, < 20 dB suspect."""
    if v is None or v >= 30:
        return "good"
    return "fair" if v >= 20 else "poor"


def sat_class(pct) -> str:
    if not pct:
        return ""
    return "fair" if pct < 0.1 else "poor"


def _per_output(values) -> str:
    return " / ".join(fmt_num(v) for v in values)


def regression_cards(report: dict) -> list:
    """RMSE cards of a regression model (one value per output, joined by '/')."""
    reg = report.get("regression")
    if not reg:
        return []
    h = report["headline"]
    worst = max((r for r in reg["rmse_ratio"] if r is not None), default=None)
    cls = "" if worst is None else "good" if worst <= 1.05 else ("fair" if worst <= 1.10 else "poor")
    cards = [("rmse_float", "float RMSE", _per_output(h["rmse_float"]), "", f"{reg['samples']:,} targets"),
             ("rmse_int8", "int8 RMSE", _per_output(h["rmse_int8"]), cls, f"×{_per_output(reg['rmse_ratio'])} of float")]
    for dev in reg["devices"]:
        key = f"rmse_on_{dev['target']}"
        cards.append((key, f"{dev['target']} RMSE", _per_output(h[key]), "", "reported by the target"))
    return cards


def headline_cards(report: dict) -> list:
    """The numbers on top: (key into report['headline'], label, formatted text, colour class, note)."""
    h, cards = report["headline"], []
    acc = report["accuracy"] or {}
    if acc.get("float") is not None:
        n = report["fidelity"]["samples"]
        cards.append(("accuracy_float", "float accuracy", fmt_pct(h["accuracy_float"]), "", f"all {n:,} windows"))
        delta = h["accuracy_delta"]
        cls = "good" if delta >= -0.005 else ("fair" if delta >= -0.02 else "poor")
        cards.append(("accuracy_int8", "int8 accuracy", fmt_pct(h["accuracy_int8"]), cls,
                      f"all {n:,} windows; {100 * delta:+.2f} pp vs float"))
    n_all = report["fidelity"]["samples"]
    for dev in acc.get("devices", []):
        key = f"accuracy_on_{dev['target']}"
        over = f"first {dev['sequences']:,} of {n_all:,} windows" if dev.get("sequences") else "windows not stated"
        cards.append((key, f"{dev['target']} accuracy", fmt_pct(h[key]), "", f"{over}, on the device"))
    over_all = f"all {n_all:,} windows"
    cards += regression_cards(report)
    cards.append(("output_sqnr_db", "output SQNR", fmt_db(h["output_sqnr_db"]), sqnr_class(h["output_sqnr_db"]), f"int8 vs float logits, {over_all}"))
    cards.append(("output_l2r", "relative L2 error", fmt_num(h["output_l2r"], 3), "", f"‖y_int − y_float‖ / ‖y_float‖, {over_all}"))
    cards.append(("output_cosine", "cosine similarity", fmt_num(h["output_cosine"], 5), "", f"outputs flattened, {over_all}"))
    if not report.get("regression"):
        cards.append(("argmax_agreement", "argmax agreement", fmt_pct(h["argmax_agreement"]), "", f"int8 picks the float class, {over_all}"))
    cards.append(("worst_sqnr_db", "worst tensor SQNR", fmt_db(h["worst_sqnr_db"]), sqnr_class(h["worst_sqnr_db"]),
                  f"{h['worst_sqnr_tensor'] or ''}, {over_all}"))
    sat = h["max_saturation_pct"]
    cards.append(("max_saturation_pct", "max saturation", f"{sat:.3f} %", sat_class(sat), f"{h['max_saturation_tensor']}, {over_all}"))
    if h.get("flash_bytes") is not None:
        cards.append(("flash_bytes", "flash", fmt_bytes_short(h["flash_bytes"]), "", f"code + weights on {h['board']}"))
    if h.get("ram_bytes") is not None:
        missing = [p for p in ("state", "scratch", "stack") if p not in h["ram_parts"]]
        note = " + ".join(h["ram_parts"]) + f" on {h['board']}" + (f" ({', '.join(missing)} not measured)" if missing else "")
        cards.append(("ram_bytes", "RAM", fmt_bytes_short(h["ram_bytes"]), "", note))
    return [{"key": k, "label": lab, "text": t, "cls": c, "note": n, "value": h.get(k)} for k, lab, t, c, n in cards]


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("tinyrnn.quantize", "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )  # fmt: skip
    env.filters.update(num=fmt_num, db=fmt_db, pct=fmt_pct, bytes=fmt_bytes, sqnr_class=sqnr_class, sat_class=sat_class)
    return env


def render_html(report: dict, plots: bool = True) -> str:
    figures = render_plots(report) if plots else no_plots("plots left out (plots=False)")
    template = _environment().get_template("report.html.j2")
    return template.render(r=report, cards=headline_cards(report), plots=figures, version=tinyrnn.__version__)


def write_html(report: dict, path: str | os.PathLike, plots: bool = True) -> str:
    """Write the page atomically; returns the path."""
    path = os.fspath(path)
    html = render_html(report, plots)
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(html)
    os.replace(tmp, path)
    return path


# ----------------------------------------------------------------------------- headless Chromium


def find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium(html_path: str | os.PathLike, screenshot: str | os.PathLike | None = None,
             window: tuple = (1280, 2400), timeout: float = 90.0, flags: tuple = ()) -> dict:  # fmt: skip
    """Open the page headless: {"dom": serialized DOM, "console": [(message, source)], "stderr"}.

    With ``screenshot`` a second run writes a PNG of the top ``window`` pixels. Each run
    gets a fresh profile directory, so nothing from another run leaks in.
    """
    exe = find_chromium()
    if exe is None:
        raise FileNotFoundError("no Chromium found (apt-get install chromium)")
    url = "file://" + os.path.abspath(html_path)
    result = {"console": [], "stderr": ""}
    runs = [("--dump-dom",)]
    if screenshot is not None:
        runs.append((f"--screenshot={os.path.abspath(screenshot)}", f"--window-size={window[0]},{window[1]}"))
    for extra in runs:
        with tempfile.TemporaryDirectory(prefix="tinyrnn-chromium-") as profile:
            cmd = [exe, *CHROMIUM_FLAGS, *flags, f"--user-data-dir={profile}", *extra, url]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"chromium exited with {proc.returncode}: {proc.stderr.strip()[-500:]}")
        if extra[0] == "--dump-dom":
            result["dom"] = proc.stdout
        result["stderr"] += proc.stderr
        result["console"] += [(m.group(1), m.group(2)) for m in _CONSOLE.finditer(proc.stderr)]
    return result
