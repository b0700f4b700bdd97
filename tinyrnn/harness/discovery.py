"""Find a board's serial port by the USB VID:PID (and serial number) of its probe.

``auto:nucleo-f446re`` becomes ``/dev/ttyACM0`` (or ``COM5``) when exactly one port
enumerates with a VID:PID the catalogue lists for that board; ``auto:BOARD:SERIAL``
picks one probe among several by its USB serial number (a prefix is enough). A
VID:PID names the probe, not the chip behind it, so two Nucleo boards look alike
here: the model hash check on connect is what guarantees the right firmware.

Uses ``serial.tools.list_ports.comports()`` only (pyserial), which tests replace.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from tinyrnn.core import boards as catalogue
from tinyrnn.core.errors import TinyrnnError

AUTO_PREFIX = "auto:"


@dataclass(frozen=True)
class PortInfo:
    device: str  # what to open: /dev/ttyACM0, COM5
    usb_id: str | None  # "0483:374B", None for non-USB ports
    serial_number: str | None
    description: str
    known_as: str | None  # name from the catalogue's usb_ids table
    boards: tuple[str, ...]  # catalogue boards whose probe has this VID:PID

    def as_dict(self) -> dict:
        d = asdict(self)
        d["boards"] = list(self.boards)
        return d


def _comports():
    from serial.tools import list_ports  # imported late: tests patch comports()

    return list_ports.comports()


def list_serial_ports() -> list[PortInfo]:
    """Every serial port the OS reports, annotated with what the catalogue knows."""
    names = catalogue.usb_names()
    out = []
    for p in sorted(_comports(), key=lambda p: p.device):
        vid, pid = getattr(p, "vid", None), getattr(p, "pid", None)
        usb = f"{vid:04X}:{pid:04X}" if vid is not None and pid is not None else None
        out.append(PortInfo(
            device=p.device, usb_id=usb, serial_number=getattr(p, "serial_number", None) or None,
            description=getattr(p, "description", "") or "", known_as=names.get((vid, pid)) if usb else None,
            boards=tuple(catalogue.boards_for_usb(vid, pid)),
        ))
    return out


def ports_for_board(board: str, serial_number: str | None = None) -> list[PortInfo]:
    """Ports whose probe matches ``board`` (and whose serial number starts with the given one)."""
    entry = catalogue.get_board(board)  # unknown names fail here, listing the valid ones
    if not entry.get("usb"):
        raise TinyrnnError(f"board {board!r} has no USB probe in the catalogue (a QEMU board: use qemu:{board})")
    want = (serial_number or "").upper()
    return [p for p in list_serial_ports()
            if board in p.boards and (not want or (p.serial_number or "").upper().startswith(want))]


def find_port(board: str, serial_number: str | None = None) -> str:
    """The one port of ``board``; a TinyrnnError that lists candidates otherwise."""
    matches = ports_for_board(board, serial_number)
    if len(matches) == 1:
        return matches[0].device
    entry = catalogue.get_board(board)
    ids = "/".join(entry["usb"])
    wanted = f"{board} (USB {ids}{', serial ' + serial_number if serial_number else ''})"
    if not matches:
        seen = ", ".join(f"{p.device} [{p.usb_id or 'no USB id'}]" for p in list_serial_ports()) or "none"
        raise TinyrnnError(f"no serial port of {wanted} is connected; ports seen: {seen}")
    choices = ", ".join(f"{p.device} (serial {p.serial_number or '?'})" for p in matches)
    raise TinyrnnError(f"{len(matches)} ports match {wanted}: {choices}; "
                       f"pick one with auto:{board}:SERIAL or give the port itself")


def resolve_target(target: str) -> str:
    """``auto:BOARD[:SERIAL]`` → the port device; any other target is returned unchanged."""
    if not target.startswith(AUTO_PREFIX):
        return target
    board, _, serial_number = target[len(AUTO_PREFIX):].partition(":")
    if not board:
        raise TinyrnnError(f"target {target!r}: expected auto:BOARD or auto:BOARD:SERIAL "
                           f"(boards with a USB probe: {', '.join(catalogue.real_boards())})")
    return find_port(board, serial_number or None)
