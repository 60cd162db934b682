"""What the double checks: requests against swagger.json's parameters, answers against the
JSON Schemas (both in ``schemas/``, see its SOURCE.txt). A problem in what the client sent
is answered 400 with GeoReport's ``[{code, description}]``; a problem in what the double
itself answers is recorded in ``problems`` (tests assert it stays empty)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

__all__ = ["EXTRA_POST_FIELDS", "Invalid", "Schemas", "parse_time"]

SCHEMAS = Path(__file__).resolve().parent / "schemas"

EXTRA_POST_FIELDS = ("email", "first_name", "last_name", "phone", "description", "media_url",
                     "device_id", "account_id", "api_key")
"""POST requests parameters of GeoReport v2's prose specification that swagger.json omits."""

_ATTRIBUTE = re.compile(r"^attribute\[([^\]]+)\]$")


class Invalid(Exception):
    """The client's request breaks the contract; the words go back in the 400 answer."""


def parse_time(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(f"'{value}' is not a W3C date-time") from None


class Schemas:
    def __init__(self) -> None:
        loaded = {name: json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
                  for name in ("request.json", "requests.json", "service.json",
                               "services.json", "service-definition.json")}
        registry: Registry[Any] = Registry().with_resources(
            (name, Resource.from_contents(schema, default_specification=DRAFT7))
            for name, schema in loaded.items())
        self.answers = {name: Draft7Validator(schema, registry=registry)
                        for name, schema in loaded.items()}
        swagger = json.loads((SCHEMAS / "swagger.json").read_text(encoding="utf-8"))
        self.swagger = swagger
        self.problems: list[str] = []

    # -- answers ------------------------------------------------------------------------------
    def answer(self, schema: str, data: Any) -> None:
        for error in self.answers[schema].iter_errors(data):
            self.problems.append(f"{schema}: {error.message} at {list(error.absolute_path)}")

    # -- requests -----------------------------------------------------------------------------
    def _parameters(self, path: str, method: str) -> list[dict[str, Any]]:
        found = []
        for parameter in self.swagger["paths"][path][method]["parameters"]:
            if "$ref" in parameter:
                parameter = self.swagger["parameters"][parameter["$ref"].rsplit("/", 1)[1]]
            if parameter["in"] == "query":
                found.append(parameter)
        return found

    def query(self, path: str, method: str, given: list[tuple[str, str]],
              extra: tuple[str, ...] = ()) -> dict[str, list[str]]:
        """``given`` checked against the operation's swagger parameters: each required one
        present, each value of its type, nothing the operation does not name (but
        ``extra``); attribute[...] stands for swagger's ``attribute`` array."""
        parameters = {p["name"]: p for p in self._parameters(path, method)}
        values: dict[str, list[str]] = {}
        for name, value in given:
            values.setdefault(name, []).append(value)
        for name, spec in parameters.items():
            if spec.get("required") and not any(values.get(name, [])):
                raise Invalid(f"{name} is required")
        for name, got in values.items():
            base = "attribute" if _ATTRIBUTE.match(name) else name
            spec = parameters.get(base)
            if spec is None:
                if base in extra:
                    continue
                raise Invalid(f"{name} is not a parameter of this call")
            if len(got) > 1 and spec.get("type") != "array":
                raise Invalid(f"{name} is given {len(got)} times")
            for value in got:
                _typed(name, spec, value)
        return values

    def attributes(self, definition: dict[str, Any], values: dict[str, list[str]]) -> None:
        """attribute[code] values against the service definition."""
        given = {m[1]: got[-1] for name, got in values.items() if (m := _ATTRIBUTE.match(name))}
        known = {a["code"]: a for a in definition["attributes"]}
        for code in given:
            if code not in known:
                raise Invalid(f"attribute {code} is not defined for service "
                              f"{definition['service_code']}")
        for code, spec in known.items():
            value = given.get(code, "")
            if spec["required"] and not value.strip():
                raise Invalid(f"attribute {code} is required for service "
                              f"{definition['service_code']}")
            if value and spec["datatype"] == "number":
                try:
                    float(value)
                except ValueError:
                    raise Invalid(f"attribute {code} must be a number") from None
            keys = {v["key"] for v in spec.get("values") or []}
            if value and spec["datatype"] == "singlevaluelist" and value not in keys:
                raise Invalid(f"attribute {code}: '{value}' is not one of its values")


def _typed(name: str, spec: dict[str, Any], value: str) -> None:
    kind = spec.get("items", {}).get("type") if spec.get("type") == "array" else spec.get("type")
    if kind == "number":
        try:
            float(value)
        except ValueError:
            raise Invalid(f"{name} must be a number, not '{value}'") from None
    if spec.get("enum") and value not in [str(e) for e in spec["enum"]]:
        raise Invalid(f"{name} must be one of {', '.join(map(str, spec['enum']))}")
    if spec.get("format") == "date-time":
        parse_time(value)
