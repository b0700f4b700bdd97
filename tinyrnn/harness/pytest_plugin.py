"""pytest plugin: a ``tinyrnn_device`` fixture talking to QEMU or a real board.

Opt in with ``pytest -p tinyrnn.harness.pytest_plugin``::

    --tinyrnn-target   qemu:BOARD (or just the board name, e.g. mps2-an386),
                       auto:BOARD[:SERIAL] (the USB port of a real board, found by VID:PID),
                       labgrid:PLACE (a place of a labgrid farm, coordinator from
                       LG_COORDINATOR; a place you already acquired is used as it is),
                       or a pyserial URL (socket://127.0.0.1:4000, /dev/ttyACM0,
                       rfc2217://host:port, spy://…)
    --tinyrnn-model    IR artifact: the device must run exactly this model (hash check);
                       also offered to tests as the ``tinyrnn_model`` fixture (an ir.Model)
    --tinyrnn-firmware ELF to boot when the target is a QEMU board
    --tinyrnn-timeout  per-request timeout in seconds (default 2)

The connection (and QEMU) lives for the whole session; every test gets a fresh
traffic log, ``<basetemp>/tinyrnn-serial/<test>.log`` (hex, with stream offsets that
match the offsets in LinkError messages), whose path is attached to failure reports.
Tests that use the fixture or carry ``@pytest.mark.tinyrnn_device`` are skipped, with
the reason, when no target was given. A QEMU board without --tinyrnn-firmware is one
usage line at start-up.

Every fixture and option here is prefixed ``tinyrnn``: labgrid's plugin and pytest-embedded
both define ``target`` (and pytest-embedded ``port``, ``dut``, ``serial``, ``qemu``, ``app``),
and with both installed one ``target`` shadows the other (see examples/README.md).
"""

from __future__ import annotations

import contextlib
import re

import pytest

from tinyrnn.core.errors import TinyrnnError
from tinyrnn.core.tnr import load
from tinyrnn.harness.discovery import AUTO_PREFIX, resolve_target
from tinyrnn.harness.dut import Device
from tinyrnn.harness.labgrid import LABGRID_PREFIX, labgrid_serial
from tinyrnn.harness.link import Link
from tinyrnn.harness.qemu import Qemu

_NO_TARGET = "no --tinyrnn-target given (a QEMU board name or a pyserial URL)"


def pytest_addoption(parser):
    group = parser.getgroup("tinyrnn", "tinyrnn device under test")
    group.addoption("--tinyrnn-target", default=None, help="QEMU board name or pyserial URL of the device")
    group.addoption("--tinyrnn-model", default=None, help="IR artifact the device must be running (hash check)")
    group.addoption("--tinyrnn-firmware", default=None, help="firmware ELF to boot when the target is a QEMU board")
    group.addoption("--tinyrnn-timeout", type=float, default=2.0, help="per-request timeout in seconds")


def pytest_configure(config):
    config.addinivalue_line("markers", "tinyrnn_device: needs a device (--tinyrnn-target); skipped without one")
    target = config.getoption("--tinyrnn-target")
    # Checked here, not in the fixture: a UsageError from a fixture is one traceback per test.
    if target and is_qemu_board(target) and not config.getoption("--tinyrnn-firmware"):
        raise pytest.UsageError(f"--tinyrnn-target {target} is a QEMU board: give its ELF with --tinyrnn-firmware")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--tinyrnn-target"):
        return
    skip = pytest.mark.skip(reason=_NO_TARGET)
    for item in items:
        if "tinyrnn_device" in item.keywords or "tinyrnn_device" in getattr(item, "fixturenames", ()):
            item.add_marker(skip)


def is_url(target: str) -> bool:
    """pyserial URLs and device paths; anything else is a board name for QEMU."""
    return "://" in target or target.startswith(("/", "\\\\")) or re.fullmatch(r"COM\d+", target, re.IGNORECASE) is not None


_QEMU_PREFIX = "qemu:"


def is_qemu_board(target: str) -> bool:
    """Not a URL, a port, nor a board found on USB or in a labgrid farm: a board QEMU boots."""
    return not is_url(target) and not target.startswith((AUTO_PREFIX, LABGRID_PREFIX))


def _expected_hash(model_path: str | None) -> str | None:
    if not model_path:
        return None

    return load(model_path).content_hash()


@contextlib.contextmanager
def open_target(target: str, *, model: str | None = None, firmware: str | None = None, timeout_s: float = 2.0):
    """Yield a Device on target (URL or QEMU board), closing everything afterwards."""
    expected = _expected_hash(model)
    with contextlib.ExitStack() as stack:
        url = resolve_target(target)  # auto:BOARD → /dev/ttyACM0
        if url.startswith(LABGRID_PREFIX):
            url = stack.enter_context(labgrid_serial(url[len(LABGRID_PREFIX):], firmware=firmware))
        elif not is_url(url):
            board = url[len(_QEMU_PREFIX):] if url.startswith(_QEMU_PREFIX) else url
            if not firmware:  # the plugin checks this at configure time; open_target is also API
                raise pytest.UsageError(f"--tinyrnn-target {target} is a QEMU board: give its ELF with --tinyrnn-firmware")
            # The session may be long: per-request deadlines, not QEMU's lifetime watchdog, catch hangs.
            url = stack.enter_context(Qemu(board, firmware, timeout_s=24 * 3600.0)).url
        link = stack.enter_context(Link(url, timeout_s=timeout_s))
        yield Device(link, expected)


@pytest.fixture(scope="session")
def tinyrnn_session_device(request):
    """The session's Device (one connection, one QEMU), or a skip without a target."""
    opt = request.config.getoption
    target = opt("--tinyrnn-target")
    if not target:
        pytest.skip(_NO_TARGET)
    try:
        with open_target(target, model=opt("--tinyrnn-model"), firmware=opt("--tinyrnn-firmware"),
                         timeout_s=opt("--tinyrnn-timeout")) as dev:
            yield dev
    except TinyrnnError as exc:
        # One clear line instead of a traceback through the harness.
        pytest.fail(f"tinyrnn target {target}: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def tinyrnn_model(request):
    """The --tinyrnn-model artifact as an ir.Model (golden model input), or a skip without one."""
    path = request.config.getoption("--tinyrnn-model")
    if not path:
        pytest.skip("no --tinyrnn-model given (the artifact the device runs)")

    try:
        return load(path)
    except TinyrnnError as exc:
        pytest.fail(f"--tinyrnn-model {path}: {exc}", pytrace=False)


def _log_name(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")[:150] + ".log"


@pytest.fixture
def tinyrnn_device(request, tinyrnn_session_device, tmp_path_factory):
    """A Device for this test; its serial traffic goes to this test's own log file."""
    log_dir = tmp_path_factory.getbasetemp() / "tinyrnn-serial"
    log_dir.mkdir(exist_ok=True)
    path = log_dir / _log_name(request.node.nodeid)
    link = tinyrnn_session_device.link
    request.node.user_properties.append(("tinyrnn_serial_log", str(path)))
    with open(path, "w", encoding="ascii", errors="replace") as fh:
        link.log_file = fh
        fh.write(f"# {request.node.nodeid} on {link.url}\n")
        try:
            yield tinyrnn_session_device
        finally:
            link.log_file = None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for name, value in item.user_properties:
            if name == "tinyrnn_serial_log":
                report.sections.append(("tinyrnn serial log", value))
