"""Quantization report: numbers recomputed independently, JSON equals HTML, page renders in Chromium."""

from __future__ import annotations

import base64
import html.parser
import io
import json
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.golden.model import dequantize_output, run_model
from tinyrnn.tfsupport import import_keras

pytestmark = pytest.mark.tf

STEPS, FEATURES, CLASSES = 10, 3, 3
COST = {"qemu-mps2-an386": {"flash_code": 6144, "flash_weights": 2400, "ram_state": 96, "ram_scratch": 160,
                            "stack_peak": 512, "instructions_per_step": 23456, "instructions_per_inference": 234560}}  # fmt: skip


def _build(tmp_path_factory, kind: str):
    """A small untrained two-layer model (Normalization, RNN, RNN, Dense), quantized."""
    from tinyrnn.quantize.keras_import import load_keras
    from tinyrnn.quantize.pipeline import quantize_model

    keras = import_keras()
    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(1)
    x = (rng.normal(size=(150, STEPS, FEATURES)) * [0.2, 1.0, 3.0] + [0.0, 1.0, -2.0]).astype(np.float32)
    norm = keras.layers.Normalization()
    norm.adapt(x)
    rnn = keras.layers.LSTM if kind == "lstm" else keras.layers.GRU
    model = keras.Sequential([keras.Input((STEPS, FEATURES)), norm, rnn(12, return_sequences=True), rnn(6),
                              keras.layers.Dense(CLASSES, activation="softmax")])  # fmt: skip
    path = tmp_path_factory.mktemp(kind) / f"{kind}.keras"
    model.save(path)
    float_model = load_keras(path)
    q = quantize_model(float_model, x[:100], classes=["rest", "walk", "run"])
    y = rng.integers(0, CLASSES, size=x.shape[0])
    return float_model, q, x, y, model


@pytest.fixture(scope="module")
def lstm_case(tmp_path_factory):
    return _build(tmp_path_factory, "lstm")


@pytest.fixture(scope="module")
def gru_case(tmp_path_factory):
    return _build(tmp_path_factory, "gru")


@pytest.fixture(scope="module")
def lstm_report(lstm_case):
    from tinyrnn.quantize.report import build_report

    float_model, q, x, y, _ = lstm_case
    return build_report(float_model, q, x, y, device={"accuracy": 0.4, "target": "qemu"}, cost=COST, progress=False)


def _sqnr(ref, got) -> float:
    ref, got = np.asarray(ref, np.float64), np.asarray(got, np.float64)
    return 10 * np.log10(np.sum(ref**2) / np.sum((got - ref) ** 2))


def _find(report, layer: int, tensor: str) -> dict:
    return next(t for t in report["fidelity"]["layers"][layer]["tensors"] if t["tensor"] == tensor)


# ----------------------------------------------------------------------------- numbers


def test_lstm_numbers_recomputed_independently(lstm_case, lstm_report):
    float_model, q, x, y, keras_model = lstm_case
    r = lstm_report
    probes, traces = [], []
    y_int = dequantize_output(q, run_model(q, q.input_quant.quantize(x), probes))
    y_float = float_model.run(x, traces)
    # Forget gate of layer 0: float pre-activations are the 2nd quarter of 'gates' (i, f, c, o).
    units = q.layers[0].hidden_size
    ref = np.stack(traces[0]["gates"], 1)[..., units : 2 * units]
    got = np.stack(probes[0]["gate_forget"], 1) / 4096.0
    assert _find(r, 0, "gate_forget")["sqnr_db"] == pytest.approx(_sqnr(ref, got), rel=1e-9)
    # Cell state of layer 1, scale 2^p; saturation counted at the int16 ends.
    cell_q = np.stack(probes[1]["cell"], 1)
    cell = _find(r, 1, "cell")
    assert cell["sqnr_db"] == pytest.approx(_sqnr(np.stack(traces[1]["cell"], 1), cell_q * 2.0 ** q.layers[1].cell_scale_power), rel=1e-9)
    assert cell["saturated"] == np.count_nonzero((cell_q == 32767) | (cell_q == -32768))
    assert cell["total"] == cell_q.size == x.shape[0] * STEPS * q.layers[1].hidden_size
    # Output error as STM32Cube.AI defines it, and accuracy / confusion.
    out = r["fidelity"]["output"]
    assert out["l2r"] == pytest.approx(np.linalg.norm(y_int - y_float) / np.linalg.norm(y_float), rel=1e-9)
    assert out["max_abs"] == pytest.approx(np.abs(y_int - y_float).max(), rel=1e-9)
    acc = r["accuracy"]
    assert acc["int8"] == pytest.approx(np.mean(np.argmax(y_int, -1) == y))
    assert acc["float"] == pytest.approx(np.mean(np.argmax(y_float, -1) == y))
    assert np.trace(acc["confusion"]["int8"]) == round(acc["int8"] * len(y))
    assert np.sum(acc["confusion"]["float"]) == len(y) == sum(acc["support"])
    # Parameters equal Keras' count without the Normalization statistics.
    keras_params = sum(layer.count_params() for layer in keras_model.layers if "normalization" not in layer.name)
    assert r["model"]["totals"]["params"] == keras_params
    assert r["model"]["layers"][0]["macs"] == 4 * 12 * (FEATURES + 12)
    assert r["model"]["totals"]["macs_per_inference"] == STEPS * (4 * 12 * 15 + 4 * 6 * 18) + 6 * CLASSES


def test_weight_scales_and_histograms_match_the_ir(lstm_case, lstm_report):
    float_model, q, *_ = lstm_case
    rows = lstm_report["quantization"]["layers"][0]["gates"]
    forget_h = next(row for row in rows if row["gate"] == "forget" and row["path"] == "h")
    w_h = float_model.layers[0].gate_weights(1)[1]
    # The quantizer's symmetric scale is max|w| / 127; the report recovers it from the multiplier.
    assert forget_h["weight_scale"] == pytest.approx(np.abs(w_h).max() / 127, rel=1e-6)
    panels = lstm_report["histograms"]["activations"][0]["panels"]
    assert [p["title"].split()[0] for p in panels] == ["input", "forget", "cell", "output", "cell", "hidden"]
    assert sum(panels[1]["float"]) == sum(panels[1]["int"]) == x_size(lstm_case, 0)


def x_size(case, layer) -> int:
    _, q, x, *_ = case
    return x.shape[0] * STEPS * q.layers[layer].hidden_size


def test_gru_report_and_chunking_do_not_change_numbers(gru_case, monkeypatch):
    from tinyrnn.quantize import report as report_mod

    float_model, q, x, y, _ = gru_case
    whole = report_mod.build_report(float_model, q, x, y, progress=False)
    monkeypatch.setattr(report_mod, "CHUNK", 7)  # 150 sequences in 22 uneven chunks
    chunked = report_mod.build_report(float_model, q, x, y, progress=False)
    for a, b in zip(whole["fidelity"]["layers"], chunked["fidelity"]["layers"]):
        for ta, tb in zip(a["tensors"], b["tensors"]):
            assert ta["sqnr_db"] == pytest.approx(tb["sqnr_db"], rel=1e-9) and ta["saturated"] == tb["saturated"]
    assert whole["histograms"] == chunked["histograms"]
    probes, traces = [], []
    run_model(q, q.input_quant.quantize(x), probes)
    float_model.run(x, traces)
    hidden = _find(whole, 0, "hidden")
    assert hidden["dtype"] == "Q0.15"
    assert hidden["sqnr_db"] == pytest.approx(_sqnr(np.stack(traces[0]["hidden"], 1), np.stack(probes[0]["hidden"], 1) / 32768.0), rel=1e-9)
    curve = whole["fidelity"]["layers"][1]["error_over_time"]["rms_error"]
    err = np.stack(probes[1]["hidden"], 1) / 32768.0 - np.stack(traces[1]["hidden"], 1)
    np.testing.assert_allclose(curve, np.sqrt(np.mean(err**2, axis=(0, 2))), rtol=1e-9)
    assert whole["cost"] is None and whole["accuracy"]["devices"] == []


def test_json_text_summary_and_errors(lstm_case, lstm_report):
    from tinyrnn.quantize.report import build_report, text_summary

    text = json.dumps(lstm_report, allow_nan=False)  # strict JSON: no NaN/Infinity, no numpy types
    assert json.loads(text) == lstm_report
    summary = text_summary(lstm_report)
    h = lstm_report["headline"]
    assert f"int8 {h['accuracy_int8']:.2%}" in summary and f"SQNR {h['output_sqnr_db']:.1f} dB" in summary
    assert "qemu 40.00%" in summary and "cost qemu-mps2-an386" in summary
    float_model, q, x, y, _ = lstm_case
    with pytest.raises(TinyrnnError, match="features"):
        build_report(float_model, q, x[..., :2], y, progress=False)
    with pytest.raises(TinyrnnError, match="labels"):
        build_report(float_model, q, x, y[:-1], progress=False)
    with pytest.raises(TinyrnnError, match="0..2"):
        build_report(float_model, q, x, y + 5, progress=False)
    bare = build_report(float_model, q, x[:20], progress=False)
    assert bare["accuracy"] is None and "cost: not measured" in text_summary(bare)


# ----------------------------------------------------------------------------- HTML


class _Page(html.parser.HTMLParser):
    """Collects headline cards, table ids, images and fidelity rows from a page."""

    def __init__(self, text: str):
        super().__init__()
        self.cards, self.tables, self.images, self.rows = {}, [], [], {}
        self._card = self._row = None
        self._cell, self._field = [], None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "data-key" in a:
            self._card = self.cards.setdefault(a["data-key"], {"value": a["data-value"], "text": ""})
        if tag == "div" and a.get("class") == "value" and self._card is not None:
            self._field = "text"
        if tag == "table" and a.get("id"):
            self.tables.append(a["id"])
        if tag == "img":
            self.images.append(a.get("src", ""))
        if tag == "tr" and "data-tensor" in a:
            self._row = self.rows.setdefault((a["data-layer"], a["data-tensor"]), [])
        if tag == "td" and self._row is not None:
            self._cell = []

    def handle_data(self, data):
        if self._field == "text":
            self._card["text"] += data
        if self._row is not None:
            self._cell.append(data)

    def handle_endtag(self, tag):
        if tag == "div" and self._field:
            self._field, self._card = None, None
        if tag == "td" and self._row is not None:
            self._row.append("".join(self._cell).strip())
        if tag == "tr":
            self._row = None


def _shown(text: str) -> tuple[float, float]:
    """Number shown in a card and half a unit of its last digit (KiB scaled to bytes)."""
    match = re.search(r"([-+]?[\d,]*\.?\d+(?:e[-+]?\d+)?)\s*(KiB)?", text)
    number = match.group(1).replace(",", "")
    digits = len(number.split(".")[1]) if "." in number and "e" not in number else 0
    if "e" in number:
        mantissa = number.split("e")[0]
        half = 0.5 * 10 ** (-len(mantissa.split(".")[1]) if "." in mantissa else 0) * 10 ** int(number.split("e")[1])
    else:
        half = 0.5 * 10**-digits
    factor = 1024 if match.group(2) else 1
    return float(number) * factor, half * factor * 1.0001


def test_error_statistics_flips_windows_ram_and_layouts(lstm_case, lstm_report):
    """Issue 17: error mean/std and NSE beside RMSE; flipped windows listed; every figure says which
    windows it covers; RAM only from measured parts; the weight layouts and quantizer options shown."""
    import dataclasses

    from tinyrnn.quantize.report import build_report
    from tinyrnn.quantize.report_html import render_html
    from tinyrnn.quantize.report_stats import quant_scheme

    float_model, q, x, y, _ = lstm_case
    y_int = dequantize_output(q, run_model(q, q.input_quant.quantize(x)))
    y_float = float_model.run(x)
    diff = (y_int - y_float).reshape(-1)
    out = lstm_report["fidelity"]["output"]
    assert out["mean"] == pytest.approx(diff.mean(), abs=1e-12) and out["std"] == pytest.approx(diff.std(), rel=1e-9)
    ref = y_float.reshape(-1)
    assert out["nse"] == pytest.approx(1 - np.sum(diff**2) / np.sum((ref - ref.mean()) ** 2), rel=1e-9)
    assert out["flipped_windows"] == [i for i in range(len(x)) if np.argmax(y_int[i]) != np.argmax(y_float[i])]
    # A device that ran the first 40 windows only, a board whose scratch and stack were not measured.
    cost = {"mps2-an386": {"flash_code": 6000, "flash_weights": 4000, "ram_state": 96, "windows": 40}}
    r = build_report(float_model, q, x, y, device={"accuracy": 0.5, "target": "qemu:mps2-an386", "sequences": 40},
                     cost=cost, progress=False)  # fmt: skip
    assert r["headline"]["ram_bytes"] == 96 and r["headline"]["ram_parts"] == ["state"]
    page = render_html(r, plots=False)
    assert "state on mps2-an386 (scratch, stack not measured)" in page
    assert f"first 40 of {len(x)} windows, on the device" in page and f"all {len(x)} windows" in page
    assert "median over the 40 windows run on it" in page and 'id="weight-layouts"' in page
    assert "widened to 16 bits" in page and "codegen --weights" in page and 'id="quantizer-options"' in page
    flips = r["fidelity"]["output"]["flipped_windows"]
    assert (f"{len(flips)} of {len(x)} windows: " + ", ".join(map(str, flips))) in page if flips else "none of the" in page
    for k, v in q.meta["calibration"].items():
        assert f"<td>{k.replace('_', ' ')}</td><td>{v}</td>" in page
    # The Normalization note only for a model that has one.
    assert "Normalization layer folded in" in quant_scheme(float_model, q)["input"]["note"]
    bare = dataclasses.replace(float_model, mean=np.zeros(FEATURES), std=np.ones(FEATURES))
    assert "no Normalization layer" in quant_scheme(bare, q)["input"]["note"]


def _check_page(page: _Page, report: dict) -> None:
    """Every headline number on the page equals the JSON's, as stored and as displayed."""
    head = report["headline"]
    assert set(page.cards) >= {"accuracy_float", "accuracy_int8", "output_sqnr_db", "output_l2r", "worst_sqnr_db", "flash_bytes"}
    for key, card in page.cards.items():
        value = head[key]
        assert float(card["value"]) == value, key  # data-value holds the exact JSON number
        shown, half = _shown(card["text"])
        if "%" in card["text"] and not key.endswith("_pct"):
            value *= 100.0  # fractions are shown as percent
        assert abs(shown - value) <= half, (key, card["text"], value)
    for layer in report["fidelity"]["layers"]:
        for t in layer["tensors"]:
            cells = page.rows[(layer["name"], t["tensor"])]
            assert cells[3] == f"{t['sqnr_db']:.1f} dB" and cells[6] == f"{t['saturated_pct']:.3f} %"
    for table in ("layers-table", "fidelity-table", "output-table", "accuracy-table", "per-class-table", "cost-table"):
        assert table in page.tables


def _check_png(uri: str) -> tuple:
    import matplotlib.image

    assert uri.startswith("data:image/png;base64,")
    raw = base64.b64decode(uri.split(",", 1)[1], validate=True)
    return matplotlib.image.imread(io.BytesIO(raw), format="png").shape


def test_html_is_self_contained_and_equals_json(lstm_case, lstm_report, tmp_path):
    from tinyrnn.quantize.report import build_report, write_json
    from tinyrnn.quantize.report_html import render_html, write_html

    path = write_html(lstm_report, tmp_path / "report.html")
    text = open(path, encoding="utf-8").read()
    page = _Page(text)
    _check_page(page, lstm_report)
    assert len(page.images) == 3 + 3 + 3  # weights and activations per layer, error/per-class/confusion
    assert all(_check_png(src)[0] > 100 for src in page.images)
    assert not re.search(r"""(src|href)=["'](https?:|//)""", text), "the page must not fetch anything"
    # The page is a pure function of the JSON: a saved report re-renders identically.
    write_json(lstm_report, tmp_path / "report.json")
    again = json.loads((tmp_path / "report.json").read_text())
    assert render_html(again) == text
    float_model, q, x, *_ = lstm_case
    bare = render_html(build_report(float_model, q, x[:20], progress=False), plots=False)
    assert "Not measured" in bare and "No labels given" in bare and "<img" not in bare


# ----------------------------------------------------------------------------- Chromium


@pytest.fixture(scope="session")
def chromium_exe():
    """Chromium, installed with apt-get when missing and we are root; otherwise skip saying why."""
    from tinyrnn.quantize.report_html import find_chromium

    if find_chromium() is None:
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            pytest.skip("chromium not installed, and installing needs root and apt-get: run `sudo apt-get install -y chromium`")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for cmd in (["apt-get", "install", "-y", "-q", "chromium"], ["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "chromium"]):
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900, check=False)
            if find_chromium() is not None:
                break
        else:
            last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            pytest.skip(f"installing chromium failed: {last[0]}")
    return find_chromium()


@pytest.mark.browser
def test_page_renders_in_headless_chromium(chromium_exe, lstm_report, tmp_path):
    from tinyrnn.quantize.report_html import chromium, write_html

    path = write_html(lstm_report, tmp_path / "report.html")
    shot = tmp_path / "report.png"
    result = chromium(path, screenshot=shot, window=(1280, 2400))
    # No script runs and nothing may load: any console line is a CSP violation or a page error.
    assert result["console"] == [], result["console"]
    page = _Page(result["dom"])
    _check_page(page, lstm_report)
    assert len(page.images) == 9 and all(src.startswith("data:image/png;base64,") for src in page.images)
    height, width, _ = _check_png("data:image/png;base64," + base64.b64encode(shot.read_bytes()).decode())
    assert (width, height) == (1280, 2400)
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)
    assert pixels.std() > 0.05, "screenshot looks blank"
    # The console check is live: a page that tries to fetch something is caught.
    tampered = tmp_path / "tampered.html"
    tampered.write_text(path_text(path).replace("</body>", '<img src="http://127.0.0.1:9/x.png"></body>'))
    assert any("Content Security Policy" in message for message, _ in chromium(tampered)["console"])


_MEASURE = """<script>
const vw = window.innerWidth;
const wide = [...document.querySelectorAll("body *")].filter(e => {
  const r = e.getBoundingClientRect(); return r.right > vw + 0.5 && !e.closest(".scroll");
}).map(e => e.tagName + (e.id ? "#" + e.id : "") + (e.className ? "." + e.className : ""));
parent.postMessage(JSON.stringify({scroll: document.documentElement.scrollWidth, viewport: vw, wide: wide.slice(0, 5)}), "*");
</script></body>"""
# Headless Chromium will not make a window narrower than 500 px: the page is measured in an
# iframe of the width under test, which is its viewport (media queries included).
_FRAME = """<!DOCTYPE html><html><body style="margin:0"><iframe src="measured.html" style="border:0;width:{w}px;height:1500px">
</iframe><script>addEventListener("message", e => document.body.setAttribute("data-measured", e.data));</script></body></html>"""


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 420])
def test_page_fits_desktop_and_phone_widths(chromium_exe, lstm_report, tmp_path, width):
    """Nothing but the scrolling table boxes may be wider than the viewport; measured by a script in
    an instrumented copy (the report itself runs none: its CSP forbids scripts)."""
    from tinyrnn.quantize.report_html import chromium, write_html

    text = path_text(write_html(lstm_report, tmp_path / "report.html"))
    text = text.replace("default-src 'none'", "default-src 'none'; script-src 'unsafe-inline'").replace("</body>", _MEASURE)
    (tmp_path / "measured.html").write_text(text, encoding="utf-8")
    (tmp_path / "frame.html").write_text(_FRAME.format(w=width), encoding="utf-8")
    dom = chromium(tmp_path / "frame.html", window=(max(width, 500) + 20, 1600),
                   flags=("--allow-file-access-from-files", "--virtual-time-budget=5000"))["dom"]
    found = re.search(r'data-measured="([^"]*)"', dom)
    assert found, dom[-500:]
    measured = json.loads(html.unescape(found.group(1)))
    assert measured["viewport"] == width and measured["scroll"] <= width and measured["wide"] == [], measured


def path_text(path) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()
