"""A test double of the Lagan / Verint FL SOAP service (see ``server.py``); never shipped."""

from .crm import (
    AUTH_FAILED,
    BAD_CLASSIFICATION,
    BUSY,
    NOT_FOUND,
    SITE_CODES,
    STOCK_CODES,
    Codes,
    FlStore,
)
from .server import Failure, LaganDouble, lagan_double

__all__ = ["AUTH_FAILED", "BAD_CLASSIFICATION", "BUSY", "NOT_FOUND", "SITE_CODES", "STOCK_CODES",
           "Codes", "Failure", "FlStore", "LaganDouble", "lagan_double"]
