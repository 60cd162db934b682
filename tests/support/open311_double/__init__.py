"""A test double of an Open311 GeoReport v2 server (see ``server.py``); never shipped."""

from .server import FAULTS, Open311Double, open311_double
from .state import Request, State, Update

__all__ = ["FAULTS", "Open311Double", "Request", "State", "Update", "open311_double"]
