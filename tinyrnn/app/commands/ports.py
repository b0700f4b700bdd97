"""`tinyrnn ports`: serial ports, with the catalogue boards each one could be.

    tinyrnn ports                          # every port, known probes named
    tinyrnn ports --board nucleo-f446re    # only that board's; "target" is what to pass to verify
"""

from __future__ import annotations

from tinyrnn.harness.discovery import list_serial_ports, ports_for_board

HELP = "list serial ports and the catalogue boards their USB probes match"


def configure(parser) -> None:
    parser.add_argument("--board", help="only ports whose USB VID:PID matches this catalogue board")


def run(args):
    ports = ports_for_board(args.board) if args.board else list_serial_ports()
    result = {"board": args.board, "ports": [p.as_dict() for p in ports],
              "target": ports[0].device if args.board and len(ports) == 1 else None}
    lines = []
    for p in ports:
        what = p.known_as or p.description or "unknown device"
        boards = f" → {', '.join(p.boards)}" if p.boards else ""
        serial = f" serial {p.serial_number}" if p.serial_number else ""
        lines.append(f"{p.device:<16} {p.usb_id or '-':<10} {what}{serial}{boards}")
    if not lines:
        lines.append(f"no serial port{' of ' + args.board if args.board else ''} found")
    elif args.board:
        lines.append(f"use --target auto:{args.board}" + (":SERIAL" if len(ports) > 1 else ""))
    return result, "\n".join(lines)
