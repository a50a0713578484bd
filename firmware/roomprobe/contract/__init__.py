"""Contract v1 between probe and hub: topics, JSON Schemas, envelope.

Both packages import this; nothing here may pull in probe-only or hub-only
dependencies.
"""

from . import topics
from .envelope import Stamp, parse_utc, utc_iso
from .schemas import ContractError, decode, encode, schema_document, schema_names, validate

__all__ = [
    "ContractError",
    "Stamp",
    "decode",
    "encode",
    "parse_utc",
    "schema_document",
    "schema_names",
    "topics",
    "utc_iso",
    "validate",
]
