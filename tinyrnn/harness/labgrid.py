"""Boards in a labgrid farm: ``labgrid:PLACE`` acquires a place through the coordinator and
turns its serial resource into a pyserial URL that :class:`~tinyrnn.harness.link.Link` opens.

    tinyrnn verify --model m.tnr --data test.npz --target labgrid:lab-m4-1
    tinyrnn verify ... --target 'labgrid:lab-m4-*' --jobs 4 --coordinator 10.0.0.5:20408

``PLACE`` is a place name, an fnmatch pattern or a comma-separated list of either; with
several places ``acquire(count=N)`` takes the first N that nobody holds. The coordinator is
``--coordinator`` or labgrid's usual ``LG_COORDINATOR`` (default 127.0.0.1:20408). Places
are released on exit, also after an error. A place's serial port is whatever its exporter
published as a ``NetworkSerialPort`` (labgrid exports every local serial port that way, via
ser2net): protocol ``rfc2217`` becomes ``rfc2217://host:port``, ``raw`` ``socket://host:port``.

labgrid is imported only here and only when a ``labgrid:`` target is used (it is an optional
dependency: ``pip install 'tinyrnn[labgrid]'``). Flashing is left to the place's owner
(``labgrid-client ... bootstrap`` or ``tinyrnn flash``): the model-hash check on connect
refuses a board that runs other firmware.
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import logging
import os
import sys
from dataclasses import dataclass

from tinyrnn.core.errors import TinyrnnError

LABGRID_PREFIX = "labgrid:"
DEFAULT_COORDINATOR = "127.0.0.1:20408"
_SERIAL_CLASSES = ("NetworkSerialPort",)
_SCHEMES = {"rfc2217": "rfc2217", "raw": "socket"}


@dataclass(frozen=True)
class Place:
    name: str
    url: str  # pyserial URL of its serial port
    tags: dict

    @property
    def board(self) -> str | None:
        return self.tags.get("board")


def coordinator_address(explicit: str | None = None) -> str:
    return explicit or os.environ.get("LG_COORDINATOR") or DEFAULT_COORDINATOR


def serial_url(cls: str, params: dict, place: str) -> str:
    """pyserial URL of an exported serial resource (its class and parameters)."""
    if cls not in _SERIAL_CLASSES:
        raise TinyrnnError(f"labgrid place {place}: resource {cls} is not a network serial port")
    protocol = params.get("protocol", "rfc2217")
    if protocol not in _SCHEMES or not params.get("host") or not params.get("port"):
        raise TinyrnnError(f"labgrid place {place}: NetworkSerialPort {params} needs host, port and "
                           f"protocol rfc2217 or raw")
    return f"{_SCHEMES[protocol]}://{params['host']}:{int(params['port'])}"


def select_places(names: list[str], spec: str) -> list[str]:
    """Place names matching ``spec`` (names or fnmatch patterns, comma-separated), in order."""
    chosen: list[str] = []
    for pattern in filter(None, (p.strip() for p in spec.split(","))):
        hits = [pattern] if pattern in names else sorted(fnmatch.filter(names, pattern))
        if not hits:
            raise TinyrnnError(f"labgrid: no place matches {pattern!r}; places: {', '.join(sorted(names)) or 'none'}")
        chosen += [h for h in hits if h not in chosen]
    if not chosen:
        raise TinyrnnError(f"target labgrid:{spec}: expected labgrid:PLACE (a name, pattern or comma-separated list)")
    return chosen


def _labgrid_client():
    try:
        from labgrid.remote import client  # optional dependency: only for labgrid: targets
    except ImportError:
        raise TinyrnnError("labgrid: targets need labgrid: pip install 'tinyrnn[labgrid]'") from None
    return client


class Farm:
    """A coordinator session that acquires places and releases them all on close()."""

    def __init__(self, coordinator: str | None = None):
        client = _labgrid_client()
        self.address = coordinator_address(coordinator)
        self._errors = (client.Error, OSError)
        logging.disable(logging.ERROR)  # labgrid logs the failure too: our one error line says it
        try:
            self.session = client.start_session(self.address, extra={"args": argparse.Namespace(
                place=None, allow_unmatched=True, kick=False)})
        except Exception as exc:  # noqa: BLE001 - grpc and labgrid raise many types for "no coordinator"
            raise TinyrnnError(f"labgrid coordinator {self.address}: cannot connect ({exc}); "
                               "is it running, and is --coordinator or LG_COORDINATOR right?") from None
        finally:
            logging.disable(logging.NOTSET)
        self.held: list[str] = []

    def _call(self, what: str, place: str) -> None:
        self.session.args.place = place
        try:
            with contextlib.redirect_stdout(sys.stderr):  # labgrid prints "acquired place X": not a result
                self.session.loop.run_until_complete(getattr(self.session, what)())
        except self._errors as exc:
            raise TinyrnnError(f"labgrid place {place}: {what} failed ({exc})") from None

    def acquire(self, spec: str, count: int = 1) -> list[Place]:
        """The first ``count`` usable places matching ``spec``: free ones are acquired (and released
        on close); ones this user already holds on this host (``labgrid-client acquire`` before a
        labgrid pytest session) are used as they are and stay acquired."""
        places = self.session.places
        mine = f"{self.session.gethostname()}/{self.session.getuser()}"
        usable = [n for n in select_places(list(places), spec) if places[n].acquired in (None, "", mine)]
        if not usable:
            raise TinyrnnError(f"labgrid: every place matching {spec!r} is acquired by someone else")
        out = []
        for name in usable[:count]:
            if not places[name].acquired:
                self._call("acquire", name)
                self.held.append(name)
            out.append(self._describe(name))
        return out

    def _describe(self, name: str) -> Place:
        place = self.session.get_place(name)
        serial = [(cls, entry.args) for (_, cls), entry in self.session.get_target_resources(place).items()
                  if cls in _SERIAL_CLASSES]
        if not serial:
            raise TinyrnnError(f"labgrid place {name} has no NetworkSerialPort (add one with "
                               f"labgrid-client -p {name} add-match EXPORTER/GROUP/NetworkSerialPort)")
        if not all(entry.avail for (_, cls), entry in self.session.get_target_resources(place).items()
                   if cls in _SERIAL_CLASSES):
            raise TinyrnnError(f"labgrid place {name}: its serial port is not available (exporter down?)")
        return Place(name, serial_url(*serial[0], name), dict(place.tags))

    def close(self) -> None:
        try:
            for name in reversed(self.held):
                with contextlib.suppress(TinyrnnError):
                    self._call("release", name)
            self.held.clear()
        finally:
            loop = self.session.loop
            loop.run_until_complete(self.session.stop())
            loop.run_until_complete(self.session.close())

    def __enter__(self) -> Farm:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@contextlib.contextmanager
def acquired(spec: str, count: int = 1, coordinator: str | None = None):
    """Yield the acquired places (at most ``count``) of ``labgrid:SPEC``; released on exit."""
    with Farm(coordinator) as farm:
        yield farm.acquire(spec, count)


@contextlib.contextmanager
def labgrid_serial(spec: str, coordinator: str | None = None, firmware: str | None = None):
    """Yield the pyserial URL of one acquired place (the pytest plugin's ``labgrid:`` target)."""
    del firmware  # flashing is the place owner's job (see the module docstring)
    with acquired(spec, 1, coordinator) as places:
        yield places[0].url
