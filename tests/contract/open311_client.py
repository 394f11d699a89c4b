"""A small Open311 GeoReport v2 client for the contract tests.

Every call returns a `Reply`. Its `data` is the parsed body in one structure for both
formats, so that the same JSON Schema (schemas/*.json) validates a JSON response and an
XML response:

* JSON is parsed as is.
* XML is converted with the Spark convention the spec names for its JSON ("JSON and XML
  Conversion"): the root element's name is dropped; a container element (one the spec
  marks as a list: <services>, <service_requests>, <errors>, <endpoints>, <formats>,
  <attributes>, <values>, and Jiesu's <history>) becomes a list of its children, even
  when it has one child or none; any other element with children becomes an object; a
  leaf becomes its text, or None when it is empty (<zipcode/>). Leaves the spec types
  as boolean or number in its JSON examples are typed the same way (metadata, variable,
  required; order, error code; lat, long) so that one schema fits both.

Parsing also checks the transport rules of the spec's "Internationalization and
Encoding" and "Format Support" sections: the body is UTF-8; an XML body begins with the
XML declaration naming encoding UTF-8; the Content-Type is text/xml for XML and
application/json for JSON (the spec names no other media type: it says "XML for the API
should be Content-Type: text/xml", so application/xml is refused), with charset=utf-8
when a charset is given. A breach raises `ContractError`, an AssertionError, so that
pytest reports it as a failed check.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.parse
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence, Union

import requests
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"

#: The one namespace an XML response may use (the spec assumes none; if one is given it
#: is the specification's URL).
SPEC_NAMESPACE = "http://wiki.open311.org/GeoReport_v2"

FORMATS = ("json", "xml")
MEDIA_TYPES = {"json": "application/json", "xml": "text/xml"}

#: Container element -> the one child element name it repeats.
CONTAINERS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
    "values": "value",
    "history": "entry",  # Jiesu's extended_attributes.history
}

BOOLEAN_LEAVES = {"metadata", "variable", "required"}
INTEGER_LEAVES = {("attribute", "order"), ("error", "code")}
DECIMAL_LEAVES = {"lat", "long"}

#: Root element of each kind of XML document.
ROOTS = {
    "discovery": "discovery",
    "services": "services",
    "service_definition": "service_definition",
    "post_response": "service_requests",
    "token_response": "service_requests",
    "requests": "service_requests",
    "service_request": "service_requests",
    "errors": "errors",
}

_XML_DECLARATION = re.compile(
    r"""<\?xml\s+version\s*=\s*(["'])1\.[0-9]+\1\s+encoding\s*=\s*(["'])utf-8\2[^>]*\?>""",
    re.IGNORECASE,
)
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


class ContractError(AssertionError):
    """The server broke a rule of the spec (or of Jiesu's documented conventions)."""


# ---------------------------------------------------------------- parsing


def check_content_type(fmt: str, header: str | None) -> None:
    """Content-Type must be the spec's media type for the format; charset, if any, utf-8."""
    if not header:
        raise ContractError(f"{fmt} response has no Content-Type header")
    media, _, rest = header.partition(";")
    media = media.strip().lower()
    if media != MEDIA_TYPES[fmt]:
        raise ContractError(
            f"{fmt} response has Content-Type {header!r}; the spec's is {MEDIA_TYPES[fmt]!r}"
        )
    for param in rest.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            value = value.strip().strip('"').lower()
            if value not in ("utf-8", "utf8"):
                raise ContractError(f"Content-Type {header!r}: the spec requires UTF-8")


def check_xml_declaration(text: str) -> None:
    """The root element must be preceded by <?xml ... encoding="UTF-8"?> (a BOM may precede)."""
    head = text[1:] if text.startswith("\ufeff") else text
    if not _XML_DECLARATION.match(head):
        raise ContractError(
            "XML body does not begin with the XML declaration naming encoding UTF-8: "
            f"{head[:80]!r}"
        )


def _local_name(tag: str) -> str:
    if tag.startswith("{"):
        namespace, _, name = tag[1:].partition("}")
        if namespace != SPEC_NAMESPACE:
            raise ContractError(f"XML element <{name}> is in foreign namespace {namespace!r}")
        return name
    return tag


def _leaf(parent: str | None, name: str, text: str) -> Any:
    value = text.strip()
    if name in BOOLEAN_LEAVES and value in ("true", "false"):
        return value == "true"
    if (parent, name) in INTEGER_LEAVES and _INTEGER.fullmatch(value):
        return int(value)
    if name in DECIMAL_LEAVES and _DECIMAL.fullmatch(value):
        return float(value)
    # Anything else (or a value of the wrong type, left for the schema to reject) is text.
    return text


def _convert(elem: ET.Element, parent: str | None) -> Any:
    name = _local_name(elem.tag)
    children = list(elem)
    own_text = (elem.text or "").strip()
    if name in CONTAINERS:
        item = CONTAINERS[name]
        if own_text:
            raise ContractError(f"container <{name}> holds text {own_text[:40]!r}")
        out = []
        for child in children:
            child_name = _local_name(child.tag)
            if child_name != item:
                raise ContractError(f"<{name}> holds <{child_name}>; it may only hold <{item}>")
            out.append(_convert(child, name))
        return out
    if children:
        if own_text:
            raise ContractError(f"<{name}> mixes text {own_text[:40]!r} with elements")
        obj: dict[str, Any] = {}
        for child in children:
            child_name = _local_name(child.tag)
            if child_name in obj:
                raise ContractError(f"<{name}> repeats <{child_name}>, which is not a list")
            obj[child_name] = _convert(child, name)
        return obj
    if not own_text:
        return None
    return _leaf(parent, name, elem.text or "")


def xml_to_data(body: Union[bytes, str], expected_root: str | None = None) -> Any:
    """Checks the declaration, parses, and converts an XML document (see module doc)."""
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    check_xml_declaration(text)
    try:
        root = ET.fromstring(body if isinstance(body, bytes) else body.encode("utf-8"))
    except ET.ParseError as err:
        raise ContractError(f"XML body does not parse: {err}; body: {text[:300]!r}") from None
    root_name = _local_name(root.tag)
    if expected_root is not None and root_name != expected_root:
        raise ContractError(f"XML root element is <{root_name}>, expected <{expected_root}>")
    return _convert(root, None)


def parse_body(fmt: str, body: bytes, expected_root: str | None = None) -> Any:
    """Parses a response body of either format into the common structure."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ContractError(f"body is not UTF-8: {err}") from None
    if fmt == "xml":
        return xml_to_data(body, expected_root)
    if fmt == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as err:
            raise ContractError(f"JSON body does not parse: {err}; body: {text[:300]!r}") from None
    raise ValueError(f"unknown format {fmt!r}")


# ---------------------------------------------------------------- schemas


@lru_cache(maxsize=None)
def _registry() -> Registry:
    resources = []
    for path in sorted(SCHEMA_DIR.glob("*.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        resources.append((schema["$id"], Resource.from_contents(schema, DRAFT202012)))
    return Registry().with_resources(resources)


@lru_cache(maxsize=None)
def schema(name: str) -> dict:
    return json.loads((SCHEMA_DIR / f"{name}.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(schema(name), registry=_registry())


def validate(data: Any, name: str, context: str = "") -> None:
    """Raises ContractError listing (up to 8 of) the schema violations."""
    errors = sorted(validator(name).iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [
            f"  at /{'/'.join(str(p) for p in err.absolute_path)}: {err.message[:300]}"
            for err in errors[:8]
        ]
        more = f"\n  ... and {len(errors) - 8} more" if len(errors) > 8 else ""
        where = f" ({context})" if context else ""
        raise ContractError(
            f"response does not match schema {name}.json{where}:\n" + "\n".join(lines) + more
        )


# ---------------------------------------------------------------- dates


def parse_datetime(value: str) -> dt.datetime:
    """A spec date-time (time zone required) as an aware datetime."""
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ContractError(f"date-time {value!r} has no time zone")
    return parsed


def w3(moment: dt.datetime, offset_hours: int | None = None) -> str:
    """Formats an aware datetime in the w3 form: Z, or +hh:mm when offset_hours is given."""
    if offset_hours is None:
        return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    zone = dt.timezone(dt.timedelta(hours=offset_hours))
    return moment.astimezone(zone).isoformat(timespec="seconds")


# ---------------------------------------------------------------- client

Params = Union[Mapping[str, Any], Sequence[tuple], None]


@dataclass
class Reply:
    """One HTTP exchange. `data` parses lazily, so a test can check the status first."""

    method: str
    url: str
    fmt: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    kind: str  # key of ROOTS: what a successful response of this call is
    _data: Any = field(default=None, repr=False)
    _parsed: bool = field(default=False, repr=False)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def data(self) -> Any:
        if not self._parsed:
            check_content_type(self.fmt, self.headers.get("Content-Type"))
            root = ROOTS["errors"] if self.status >= 400 else ROOTS[self.kind]
            self._data = parse_body(self.fmt, self.body, root)
            self._parsed = True
        return self._data

    def describe(self) -> str:
        return f"{self.method} {self.url} -> HTTP {self.status}: {self.text[:400]}"


def _clean(params: Params) -> list[tuple[str, str]]:
    """Query/form pairs; None values are left out, "" values are sent empty."""
    if params is None:
        return []
    items = params.items() if isinstance(params, Mapping) else params
    return [(str(k), str(v)) for k, v in items if v is not None]


def _segment(value: Any) -> str:
    return urllib.parse.quote(str(value), safe="")


class Open311Client:
    """Calls one Jiesu server's GeoReport v2 API (`{root}/open311/v2/`) and discovery."""

    def __init__(self, root_url: str, timeout: float = 30.0):
        self.root = root_url.rstrip("/")
        self.api = f"{self.root}/open311/v2"
        self.timeout = timeout
        self.http = requests.Session()

    def _send(self, method: str, url: str, fmt: str, kind: str, params: Params = None,
              form: Params = None) -> Reply:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}")
        headers = {"Accept": MEDIA_TYPES[fmt]}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(_clean(form), encoding="utf-8").encode("ascii")
            headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
        resp = self.http.request(method, url, params=_clean(params), data=body,
                                 headers=headers, timeout=self.timeout)
        return Reply(method, resp.url, fmt, resp.status_code, resp.headers, resp.content, kind)

    def discovery(self, fmt: str, params: Params = None) -> Reply:
        return self._send("GET", f"{self.root}/open311/discovery.{fmt}", fmt, "discovery", params)

    def services(self, fmt: str, params: Params = None) -> Reply:
        return self._send("GET", f"{self.api}/services.{fmt}", fmt, "services", params)

    def service_definition(self, service_code: Any, fmt: str, params: Params = None) -> Reply:
        url = f"{self.api}/services/{_segment(service_code)}.{fmt}"
        return self._send("GET", url, fmt, "service_definition", params)

    def post_request(self, fmt: str, form: Iterable[tuple] | Mapping[str, Any]) -> Reply:
        """POST requests.[format], form-encoded. `form` pairs may repeat a key
        (attribute[code][]=a&attribute[code][]=b for a multivaluelist)."""
        form_pairs = list(form.items()) if isinstance(form, Mapping) else list(form)
        return self._send("POST", f"{self.api}/requests.{fmt}", fmt, "post_response",
                          form=form_pairs)

    def token(self, token: Any, fmt: str, params: Params = None) -> Reply:
        url = f"{self.api}/tokens/{_segment(token)}.{fmt}"
        return self._send("GET", url, fmt, "token_response", params)

    def requests(self, fmt: str, params: Params = None) -> Reply:
        return self._send("GET", f"{self.api}/requests.{fmt}", fmt, "requests", params)

    def request(self, service_request_id: Any, fmt: str, params: Params = None) -> Reply:
        url = f"{self.api}/requests/{_segment(service_request_id)}.{fmt}"
        return self._send("GET", url, fmt, "service_request", params)
