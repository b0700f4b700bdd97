"""Port discovery by USB VID:PID and serial number, on a monkeypatched port list."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from tinyrnn.app import cli
from tinyrnn.core import boards as catalogue
from tinyrnn.core.errors import TinyrnnError
from tinyrnn.harness import discovery as ports


def port(device, vid=None, pid=None, serial=None, description="n/a"):
    """What serial.tools.list_ports.comports() yields (ListPortInfo's attributes)."""
    return SimpleNamespace(device=device, vid=vid, pid=pid, serial_number=serial, description=description)


NUCLEO = port("/dev/ttyACM0", 0x0483, 0x374B, "0671FF485457725187092127", "STM32 STLink")
NUCLEO_V3 = port("/dev/ttyACM3", 0x0483, 0x374E, "003A00213232510239353236", "STLINK-V3")
DK = port("/dev/ttyACM1", 0x1366, 0x1015, "000683123456", "J-Link")
PICO = port("/dev/ttyACM2", 0x2E8A, 0x000A, "E6614C311B5A", "Board CDC")
UART = port("/dev/ttyS0")


@pytest.fixture
def attached(monkeypatch):
    """Set the ports the 'OS' reports."""

    def attach(*found):
        monkeypatch.setattr(ports, "_comports", lambda: list(found))

    return attach


def test_catalogue_usb_data_is_consistent():
    assert catalogue.real_boards() == ["nrf52840-dk", "nucleo-f446re"]
    assert set(catalogue.real_boards()).isdisjoint(catalogue.qemu_boards())
    for board in catalogue.real_boards():
        entry = catalogue.get_board(board)
        assert entry["qemu"] is None and entry["hardware_tested"] is False and entry["usb"]
        for vid_pid in entry["usb"]:  # every board id has a display name
            assert catalogue.parse_usb_id(vid_pid) in catalogue.usb_names()
    with pytest.raises(TinyrnnError, match="not VID:PID"):
        catalogue.parse_usb_id("0483-374B")


def test_listing_names_probes_and_boards(attached):
    attached(UART, PICO, DK, NUCLEO)
    listed = {p.device: p for p in ports.list_serial_ports()}
    assert listed["/dev/ttyACM0"].boards == ("nucleo-f446re",) and listed["/dev/ttyACM0"].usb_id == "0483:374B"
    assert listed["/dev/ttyACM1"].boards == ("nrf52840-dk",)
    assert listed["/dev/ttyACM2"].boards == () and "RP2040" in listed["/dev/ttyACM2"].known_as
    assert listed["/dev/ttyS0"].usb_id is None and listed["/dev/ttyS0"].known_as is None


def test_auto_target_resolves_one_port(attached):
    attached(UART, DK, NUCLEO)
    assert ports.resolve_target("auto:nucleo-f446re") == "/dev/ttyACM0"
    assert ports.resolve_target("auto:nrf52840-dk") == "/dev/ttyACM1"
    assert ports.resolve_target("socket://127.0.0.1:4000") == "socket://127.0.0.1:4000"  # untouched
    assert ports.resolve_target("qemu:mps2-an386") == "qemu:mps2-an386"


def test_several_probes_need_a_serial_number(attached):
    attached(NUCLEO, NUCLEO_V3)
    with pytest.raises(TinyrnnError, match=r"2 ports match nucleo-f446re .*/dev/ttyACM0 \(serial 0671FF.*auto:nucleo-f446re:SERIAL"):
        ports.resolve_target("auto:nucleo-f446re")
    assert ports.resolve_target("auto:nucleo-f446re:003a0021") == "/dev/ttyACM3"  # prefix, any case


def test_missing_board_lists_what_was_seen(attached):
    attached(UART, PICO)
    with pytest.raises(TinyrnnError, match=r"no serial port of nrf52840-dk \(USB 1366:1015/1366:1051\).*"
                                           r"/dev/ttyACM2 \[2E8A:000A\], /dev/ttyS0 \[no USB id\]"):
        ports.resolve_target("auto:nrf52840-dk")
    with pytest.raises(TinyrnnError, match="has no USB probe.*qemu:mps2-an386"):
        ports.resolve_target("auto:mps2-an386")
    with pytest.raises(TinyrnnError, match="valid boards"):
        ports.resolve_target("auto:nosuchboard")
    with pytest.raises(TinyrnnError, match="expected auto:BOARD"):
        ports.resolve_target("auto:")


def test_ports_command(attached, capsys):
    attached(UART, DK, NUCLEO)
    assert cli.main(["ports", "--board", "nucleo-f446re", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["target"] == "/dev/ttyACM0" and [p["device"] for p in out["ports"]] == ["/dev/ttyACM0"]
    assert out["ports"][0]["serial_number"] == NUCLEO.serial_number
    assert cli.main(["ports"]) == 0
    human = capsys.readouterr().out  # the result: stdout
    assert "/dev/ttyACM1" in human and "J-Link" in human and "→ nrf52840-dk" in human


def test_verify_auto_target_without_a_board_is_a_user_error(attached, capsys, tmp_path):
    import irgen
    import numpy as np

    from tinyrnn.core import tnr

    attached(UART)
    model = irgen.build_model(np.random.default_rng(0), 3, [4], [2])
    tnr.save(model, tmp_path / "m.tnr")
    np.savez(tmp_path / "d.npz", x=np.zeros((2, 5, 3), np.float32), y=np.zeros(2, int))
    code = cli.main(["verify", "--model", str(tmp_path / "m.tnr"), "--target", "auto:nucleo-f446re",
                     "--data", str(tmp_path / "d.npz")])
    assert code == 2 and "no serial port of nucleo-f446re" in capsys.readouterr().err
