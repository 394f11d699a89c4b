"""Contract tests of Jiesu's Open311 GeoReport v2 interface, written from the spec
(http://wiki.open311.org/GeoReport_v2, http://wiki.open311.org/Service_discovery) and
the few Jiesu conventions in README.md, not from the server's code.

The tests named test_examples_* check the schemas and the XML conversion against the
spec's own example responses (examples/) and need no server. Every other test talks to
the server at $JIESU_OPEN311_URL (tests/contract/run.sh starts one) and is skipped
without it. Nearly every test runs once per format, json and xml.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import open311_client as o3
from open311_client import ContractError

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE / "examples"
FORMATS = ["json", "xml"]

API_KEY = "jiesu-demo"  # the demo city's key (Jiesu convention)
JURISDICTION = "demo"  # the server's one default jurisdiction (Jiesu convention)
GEOREPORT_V2 = "http://wiki.open311.org/GeoReport_v2"  # the spec's specification token

# A point in the demo city's part of the world and how close "now" must be.
LAT, LONG = 39.608612, 109.781327
NOW_SLACK = dt.timedelta(minutes=2)
SUITE_START = dt.datetime.now(dt.timezone.utc)

EXAMPLE_KINDS = [
    "discovery",
    "services",
    "service_definition",
    "post_response",
    "token_response",
    "requests",
    "service_request",
    "errors",
]


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


# =====================================================================================
# Self-check of the schemas and the XML conversion on the spec's examples (no server)
# =====================================================================================


def _example(kind: str, fmt: str) -> Any:
    body = (EXAMPLES / f"{kind}.{fmt}").read_bytes()
    return o3.parse_body(fmt, body, o3.ROOTS[kind])


def _normalise(value: Any) -> Any:
    """Same shape, scalars compared loosely: the spec's JSON gives ids as numbers where
    its XML has text, and its XML keeps whitespace around some values. An empty list is
    the same as null (an empty container element, <values/>, is JSON's null or [])."""
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value] or None
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    return str(value).strip()


def test_examples_schemas_are_valid_draft_2020_12():
    for path in sorted((HERE / "schemas").glob("*.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema", path.name
        o3.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", EXAMPLE_KINDS)
def test_examples_validate_against_schemas(kind, fmt):
    o3.validate(_example(kind, fmt), kind, f"spec example {kind}.{fmt}")


@pytest.mark.parametrize("kind", EXAMPLE_KINDS)
def test_examples_xml_converts_to_the_specs_json(kind):
    assert _normalise(_example(kind, "xml")) == _normalise(_example(kind, "json"))


def _mutate(data: Any, path: tuple, value: Any = "__delete__") -> Any:
    data = json.loads(json.dumps(data))
    target = data
    for step in path[:-1]:
        target = target[step]
    if value == "__delete__":
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


NEGATIVE_CASES = [
    ("requests", (0, "status"), "pending"),
    ("requests", (0, "requested_datetime"), "2010-04-14T06:37:38"),
    ("requests", (0, "requested_datetime"), "2010-04-14 06:37:38Z"),
    ("requests", (0, "updated_datetime"), "2010-04-14"),
    ("requests", (0, "expected_datetime"), "tomorrow"),
    ("requests", (1, "service_code"), "__delete__"),
    ("requests", (1, "requested_datetime"), "__delete__"),
    ("requests", (0, "lat"), "37.76"),
    ("requests", (0, "long"), 222.5),
    ("service_request", (0, "service_request_id"), None),
    ("services", (0, "type"), "instant"),
    ("services", (0, "metadata"), "true"),
    ("services", (2, "service_name"), "__delete__"),
    ("service_definition", ("attributes", 0, "datatype"), "boolean"),
    ("service_definition", ("attributes", 0, "values"), "__delete__"),
    ("service_definition", ("attributes", 0, "values"), []),
    ("service_definition", ("attributes", 0, "order"), 0),
    ("service_definition", ("attributes", 0, "required"), "__delete__"),
    ("service_definition", ("service_code",), "__delete__"),
    ("token_response", (0, "token"), "__delete__"),
    ("post_response", (0, "service_notice"), 5),
    ("errors", (0, "description"), "__delete__"),
    ("errors", (0, "code"), "403"),
    ("errors", (0,), "__delete__"),  # an empty error list
    ("discovery", ("key_service",), "__delete__"),
    ("discovery", ("endpoints", 0, "type"), "staging"),
    ("discovery", ("endpoints", 1, "formats"), "text/xml"),
]


@pytest.mark.parametrize("kind,path,value", NEGATIVE_CASES,
                         ids=[f"{k}-{'.'.join(map(str, p))}={v}" for k, p, v in NEGATIVE_CASES])
def test_examples_schemas_reject_broken_responses(kind, path, value):
    broken = _mutate(_example(kind, "json"), path, value)
    with pytest.raises(ContractError):
        o3.validate(broken, kind)


EXTENDED_XML = """<?xml version="1.0" encoding="UTF-8"?>
<service_requests>
  <request>
    <service_request_id>202611300001</service_request_id>
    <status>open</status>
    <service_name>路灯故障</service_name>
    <service_code>A01</service_code>
    <description>路灯不亮</description>
    <requested_datetime>2026-11-30T09:00:00+08:00</requested_datetime>
    <updated_datetime>2026-11-30T09:05:00+08:00</updated_datetime>
    <address>东胜区</address>
    <address_id/>
    <zipcode/>
    <lat/>
    <long/>
    <media_url/>
    <extended_attributes>
      <jiesu_status>accepted</jiesu_status>
      <jiesu_status_label>已受理</jiesu_status_label>
      <satisfaction/>
      <history>
        <entry>
          <at>2026-11-30T09:00:00+08:00</at>
          <status>accepted</status>
          <action>accept</action>
          <description/>
        </entry>
      </history>
    </extended_attributes>
  </request>
</service_requests>
"""


def test_examples_extension_xml_converts_and_validates():
    data = o3.xml_to_data(EXTENDED_XML.encode("utf-8"), "service_requests")
    o3.validate(data, "service_request")
    extended = data[0]["extended_attributes"]
    assert extended["satisfaction"] is None
    assert extended["history"] == [{
        "at": "2026-11-30T09:00:00+08:00", "status": "accepted", "action": "accept",
        "description": None,
    }]
    assert data[0]["lat"] is None and data[0]["zipcode"] is None


@pytest.mark.parametrize("body", [
    b"<services/>",  # no declaration
    b"\n<?xml version=\"1.0\" encoding=\"UTF-8\"?><services/>",  # not at the start
    b"<?xml version=\"1.0\"?><services/>",  # no encoding
    b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><services/>",
])
def test_examples_xml_declaration_is_required(body):
    with pytest.raises(ContractError):
        o3.xml_to_data(body, "services")


def test_examples_xml_structure_checks():
    ok = b'<?xml version="1.0" encoding="utf-8"?>'
    assert o3.xml_to_data(ok + b"<services></services>", "services") == []
    with pytest.raises(ContractError):  # wrong root
        o3.xml_to_data(ok + b"<requests/>", "services")
    with pytest.raises(ContractError):  # a container holding a foreign element
        o3.xml_to_data(ok + b"<services><item/></services>", "services")
    with pytest.raises(ContractError):  # a repeated element outside a container
        o3.xml_to_data(ok + b"<service_definition><service_code>1</service_code>"
                       b"<service_code>2</service_code></service_definition>", None)


@pytest.mark.parametrize("fmt,header,good", [
    ("xml", "text/xml; charset=utf-8", True),
    ("xml", "text/xml;charset=UTF-8", True),
    ("xml", "text/xml", True),
    ("json", "application/json; charset=utf-8", True),
    ("json", "application/json", True),
    ("xml", "application/xml; charset=utf-8", False),
    ("xml", "text/xml; charset=ISO-8859-1", False),
    ("json", "text/json", False),
    ("json", "text/html; charset=utf-8", False),
    ("json", None, False),
])
def test_examples_content_type_rules(fmt, header, good):
    if good:
        o3.check_content_type(fmt, header)
    else:
        with pytest.raises(ContractError):
            o3.check_content_type(fmt, header)


# =====================================================================================
# Against the server
# =====================================================================================


@pytest.fixture(scope="session")
def client() -> o3.Open311Client:
    url = os.environ.get("JIESU_OPEN311_URL")
    if not url:
        pytest.skip("JIESU_OPEN311_URL is not set; tests/contract/run.sh BIN starts a server")
    return o3.Open311Client(url)


def ok(reply: o3.Reply, kind: str, status: int = 200) -> Any:
    """The call succeeded with `status` and its body matches the kind's schema.

    Success is 200 everywhere, POST included: the spec gives no other success status
    (its examples show none and its Errors section defines only 400, 403 and 404)."""
    assert reply.status == status, f"expected HTTP {status}: {reply.describe()}"
    o3.validate(reply.data, kind, f"{reply.method} {reply.url}")
    return reply.data


def expect_error(reply: o3.Reply, status: int) -> list[dict]:
    """An error response: HTTP `status`, body a list of {code, description} (XML
    <errors><error><code/><description/></error></errors>), each code equal to the
    HTTP status (the spec: the code "should match the HTTP status code" in most cases;
    Jiesu keeps them equal)."""
    assert reply.status == status, f"expected HTTP {status}: {reply.describe()}"
    errors = reply.data
    o3.validate(errors, "errors", f"{reply.method} {reply.url}")
    codes = [e["code"] for e in errors]
    assert all(code == status for code in codes), \
        f"error codes {codes} differ from HTTP {status}: {reply.describe()}"
    return errors


def ids_of(items: list[dict]) -> list[str]:
    return [str(item["service_request_id"]) for item in items]


def new_marker() -> str:
    """A unique word of letters only (no digits: Jiesu masks number runs that look like
    phone numbers in texts shown to the public)."""
    return "".join(chr(ord("a") + int(c, 16)) for c in uuid.uuid4().hex[:14])


def description_for(marker: str) -> str:
    return f"合约测试{marker}：小区门口的路灯不亮，夜间行人看不清路面。\n请尽快派人维修。"


def address_for(marker: str) -> str:
    return f"幸福路{marker}号，东胜区，A市"


@dataclass
class Created:
    fmt: str
    service: dict
    service_request_id: str
    token: Any
    marker: str
    description: str
    address_string: str | None
    form: list
    posted_at: dt.datetime
    post_data: list


class World:
    """What the server offers, fetched once, and request creation."""

    def __init__(self, client: o3.Open311Client):
        self.client = client
        self.services: list[dict] = ok(client.services("json"), "services")
        assert self.services, "the demo city offers no services"
        self._definitions: dict[str, dict] = {}

    def definition(self, service: dict) -> dict:
        code = str(service["service_code"])
        if code not in self._definitions:
            if service["metadata"]:
                reply = self.client.service_definition(code, "json")
                self._definitions[code] = ok(reply, "service_definition")
            else:
                self._definitions[code] = {"service_code": code, "attributes": []}
        return self._definitions[code]

    def postable(self) -> list[dict]:
        """Services a POST gets an id back for (blackbox ones return none)."""
        found = [s for s in self.services if s["type"] != "blackbox"]
        if not found:
            pytest.skip("every service is blackbox: no request can be followed")
        return found

    def plain_service(self) -> dict:
        candidates = self.postable()
        plain = [s for s in candidates if not s["metadata"]]
        return (plain or candidates)[0]

    def metadata_services(self) -> list[dict]:
        return [s for s in self.services if s["metadata"]]

    def service_with_attributes(self, required: bool = False) -> tuple[dict, dict]:
        for service in self.postable():
            if not service["metadata"]:
                continue
            definition = self.definition(service)
            for attribute in definition["attributes"]:
                if attribute["variable"] and (attribute["required"] or not required):
                    return service, definition
        what = "a required variable attribute" if required else "variable attributes"
        pytest.skip(f"no postable service has {what}")

    def form(self, service: dict, marker: str, location: list[tuple], extra=(),
             attributes: bool = True, drop: tuple = ()) -> list[tuple]:
        form = [
            ("api_key", API_KEY),
            ("service_code", str(service["service_code"])),
            *location,
            ("description", description_for(marker)),
        ]
        if attributes:
            form += attribute_fields(self.definition(service))
        form += list(extra)
        return [(k, v) for k, v in form if k not in drop]

    def create(self, fmt: str, service: dict | None = None, location: list[tuple] | None = None,
               extra=(), with_address: bool = False) -> Created:
        """POSTs a valid request (lat/long unless `location` is given; plus an
        address_string carrying the marker if `with_address`) and follows the answer to
        its service_request_id (through GET token for a batch service)."""
        service = service or self.plain_service()
        marker = new_marker()
        if location is None:
            location = [("lat", f"{LAT:.6f}"), ("long", f"{LONG:.6f}")]
        if with_address:
            location = [*location, ("address_string", address_for(marker))]
        address_string = dict(location).get("address_string")
        form = self.form(service, marker, location, extra)
        posted_at = now()
        data = ok(self.client.post_request(fmt, form), "post_response")
        assert len(data) == 1, f"one request posted, {len(data)} described back: {data}"
        item = data[0]
        sid, token = item.get("service_request_id"), item.get("token")
        assert sid is None or token is None, \
            f"the spec: service_request_id and token are not returned together: {item}"
        if service["type"] == "realtime":
            assert sid is not None, f"realtime service returned no service_request_id: {item}"
        if service["type"] == "batch":
            assert token is not None, f"batch service returned no token: {item}"
            sid = self.resolve_token(token, fmt)
        if fmt == "json":
            assert isinstance(sid, str), f"service_request_id is a string in Jiesu: {sid!r}"
        return Created(fmt, service, str(sid), token, marker, description_for(marker),
                       address_string, form, posted_at, data)

    def resolve_token(self, token: Any, fmt: str) -> str:
        deadline = time.monotonic() + 30
        while True:
            data = ok(self.client.token(token, fmt), "token_response")
            assert str(data[0]["token"]) == str(token), data
            if data[0]["service_request_id"] is not None:
                return str(data[0]["service_request_id"])
            assert time.monotonic() < deadline, f"token {token} gave no service_request_id in 30 s"
            time.sleep(1)

    def fetch(self, created: Created, fmt: str | None = None, **params) -> dict:
        reply = self.client.request(created.service_request_id, fmt or created.fmt, params)
        data = ok(reply, "service_request")
        assert len(data) == 1, data
        assert str(data[0]["service_request_id"]) == created.service_request_id
        return data[0]


def attribute_fields(definition: dict) -> list[tuple]:
    """attribute[code]=value pairs, a valid value for each of the definition's variable
    attributes (the spec's form: attribute[code]=value, attribute[code][]=value for a
    multivaluelist)."""
    form = []
    for attribute in sorted(definition["attributes"], key=lambda a: a["order"]):
        if not attribute["variable"]:
            continue
        code = str(attribute["code"])
        datatype = attribute["datatype"]
        values = attribute.get("values") or []
        if datatype == "singlevaluelist":
            form.append((f"attribute[{code}]", str(values[0]["key"])))
        elif datatype == "multivaluelist":
            form += [(f"attribute[{code}][]", str(v["key"])) for v in values[:2]]
        elif datatype == "number":
            form.append((f"attribute[{code}]", "3"))
        elif datatype == "datetime":
            form.append((f"attribute[{code}]", o3.w3(now(), 8)))
        elif datatype == "text":
            form.append((f"attribute[{code}]", "第一行说明\n第二行说明"))
        else:
            form.append((f"attribute[{code}]", "合约测试"))
    return form


@pytest.fixture(scope="session")
def world(client) -> World:
    return World(client)


_created_cache: dict[str, Created] = {}


@pytest.fixture
def created(world, fmt) -> Created:
    """A request POSTed in this test's format with lat/long and an address_string that
    carries its marker; made once per format and shared by the tests that only read it."""
    if fmt not in _created_cache:
        _created_cache[fmt] = world.create(fmt, with_address=True)
    return _created_cache[fmt]


def within_now(moment: dt.datetime, since: dt.datetime) -> bool:
    return since - NOW_SLACK <= moment <= now() + NOW_SLACK


def recent_window() -> list[tuple]:
    """start_date/end_date covering this run of the suite."""
    return [("start_date", o3.w3(SUITE_START - dt.timedelta(minutes=5))),
            ("end_date", o3.w3(now() + dt.timedelta(hours=1)))]


def count_recent(client: o3.Open311Client) -> tuple[int, list[dict]]:
    items = ok(client.requests("json", [("api_key", API_KEY), ("status", "open,closed"),
                                        *recent_window()]), "requests")
    return len(items), items


def assert_nothing_created(client: o3.Open311Client, before: int, marker: str) -> None:
    after, items = count_recent(client)
    leaked = [i for i in items if marker in (i.get("description") or "")]
    assert not leaked, f"a POST that failed validation created {ids_of(leaked)}"
    assert after == before, f"a POST that failed validation changed the count {before} -> {after}"


# ------------------------------------------------------------------------- discovery


@pytest.mark.parametrize("fmt", FORMATS)
def test_discovery(client, fmt):
    data = ok(client.discovery(fmt), "discovery")
    georeport = [e for e in data["endpoints"] if e["specification"] == GEOREPORT_V2]
    assert georeport, f"no endpoint for {GEOREPORT_V2}: {data['endpoints']}"
    for endpoint in georeport:
        url = endpoint["url"]
        assert url.endswith("/open311/v2") or url.endswith("/open311/v2/"), url
        # XML is the spec's required format; the suite also uses JSON, so it must be listed.
        assert "text/xml" in endpoint["formats"], endpoint
        assert "application/json" in endpoint["formats"], endpoint


def test_discovery_same_in_both_formats(client):
    as_json = ok(client.discovery("json"), "discovery")
    as_xml = ok(client.discovery("xml"), "discovery")
    assert _normalise(as_json) == _normalise(as_xml)


# ------------------------------------------------------------------------- services


@pytest.mark.parametrize("fmt", FORMATS)
def test_services_list(client, fmt):
    services = ok(client.services(fmt), "services")
    assert services, "no services"
    codes = [str(s["service_code"]) for s in services]
    assert len(codes) == len(set(codes)), f"service_code values repeat: {codes}"
    assert all(s["service_name"].strip() for s in services)


def test_services_same_in_both_formats(client):
    as_json = ok(client.services("json"), "services")
    as_xml = ok(client.services("xml"), "services")
    assert _normalise(as_json) == _normalise(as_xml)


@pytest.mark.parametrize("fmt", FORMATS)
def test_services_with_jurisdiction_or_empty_arguments(client, fmt):
    plain = ok(client.services(fmt), "services")
    # jurisdiction_id is optional with one jurisdiction; naming it changes nothing.
    assert ok(client.services(fmt, {"jurisdiction_id": JURISDICTION}), "services") == plain
    # "Optional" means an empty parameter is the same as none.
    assert ok(client.services(fmt, {"jurisdiction_id": ""}), "services") == plain


@pytest.mark.parametrize("fmt", FORMATS)
def test_service_definitions(client, world, fmt):
    with_metadata = world.metadata_services()
    assert with_metadata, "no service has metadata=true, so no service definition can be read"
    for service in with_metadata[:4]:
        reply = client.service_definition(service["service_code"], fmt)
        definition = ok(reply, "service_definition")
        assert str(definition["service_code"]) == str(service["service_code"])
        attributes = definition["attributes"]
        codes = [str(a["code"]) for a in attributes]
        assert len(codes) == len(set(codes)), f"attribute codes repeat: {codes}"
        orders = [a["order"] for a in attributes]
        assert len(orders) == len(set(orders)), f"order is not unique within the service: {orders}"
        for attribute in attributes:
            if attribute["datatype"] in ("singlevaluelist", "multivaluelist"):
                keys = [str(v["key"]) for v in attribute["values"]]
                assert len(keys) == len(set(keys)), f"value keys repeat in {attribute['code']}"
        assert _normalise(definition) == _normalise(world.definition(service))


# ------------------------------------------------------------------------- POST and read back


def check_fresh(item: dict, made: Created) -> None:
    """What GET returns for a request this suite just created (read with the api_key)."""
    assert str(item["service_code"]) == str(made.service["service_code"])
    assert item["status"] == "open", item
    requested = o3.parse_datetime(item["requested_datetime"])
    assert within_now(requested, made.posted_at), \
        f"requested_datetime {item['requested_datetime']} is not now ({made.posted_at})"
    updated = o3.parse_datetime(item["updated_datetime"])
    assert updated >= requested - dt.timedelta(seconds=1), item
    if item.get("expected_datetime") is not None:
        expected = o3.parse_datetime(item["expected_datetime"])
        assert expected > requested, f"expected_datetime is not after requested_datetime: {item}"
    assert item["description"] == made.description


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_with_lat_long(world, fmt):
    made = world.create(fmt)
    item = world.fetch(made, api_key=API_KEY)
    check_fresh(item, made)
    assert item["lat"] == pytest.approx(LAT, abs=1e-6)
    assert item["long"] == pytest.approx(LONG, abs=1e-6)


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_with_address_string(world, fmt):
    marker = new_marker()
    made = world.create(fmt, location=[("address_string", address_for(marker))])
    item = world.fetch(made, api_key=API_KEY)
    check_fresh(item, made)
    assert marker in (item["address"] or ""), \
        f"address {item['address']!r} lost the address_string {address_for(marker)!r}"


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_with_attributes(world, fmt):
    service, definition = world.service_with_attributes()
    fields = attribute_fields(definition)
    assert fields
    made = world.create(fmt, service=service)
    assert all(pair in made.form for pair in fields)
    check_fresh(world.fetch(made, api_key=API_KEY), made)


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_with_contact_fields(world, fmt):
    contact = [
        ("jurisdiction_id", JURISDICTION),
        ("email", "hezuo.ceshi@example.com"),
        ("first_name", "小明"),
        ("last_name", "王"),
        ("phone", "13800000000"),
        ("device_id", "contract-test-device"),
        ("account_id", "contract-test-account"),
        ("media_url", "https://example.com/photo.jpg"),
    ]
    made = world.create(fmt, extra=contact)
    check_fresh(world.fetch(made, api_key=API_KEY), made)


@pytest.mark.parametrize("fmt", FORMATS)
def test_token_resolves_to_the_request(client, world, fmt):
    made = world.create(fmt)
    if made.token is None:
        pytest.skip(f"{made.service['type']} service: the POST returned a "
                    "service_request_id, not a token, so GET token is not called")
    for read_fmt in FORMATS:
        data = ok(client.token(made.token, read_fmt), "token_response")
        assert str(data[0]["token"]) == str(made.token)
        assert str(data[0]["service_request_id"]) == made.service_request_id


@pytest.mark.parametrize("fmt", FORMATS)
def test_request_same_in_both_formats(world, created, fmt):
    as_json = world.fetch(created, "json", api_key=API_KEY)
    as_xml = world.fetch(created, "xml", api_key=API_KEY)
    assert _normalise(as_json) == _normalise(as_xml)


# ------------------------------------------------------------------------- GET requests


@pytest.mark.parametrize("fmt", FORMATS)
def test_requests_default_query(client, created, fmt):
    items = ok(client.requests(fmt), "requests")
    assert len(items) <= 1000, f"default query returned {len(items)} requests (limit 1000)"
    oldest_allowed = now() - dt.timedelta(days=90) - dt.timedelta(hours=1)
    for item in items:
        when = o3.parse_datetime(item["requested_datetime"])
        assert when >= oldest_allowed, \
            f"default query returned {item['service_request_id']} of {when}, over 90 days ago"
    if fmt == "json":
        assert all(isinstance(i["service_request_id"], str) for i in items)
    if len(items) < 1000:
        assert created.service_request_id in ids_of(items)


@pytest.mark.parametrize("fmt", FORMATS)
def test_requests_by_service_request_ids(client, world, created, fmt):
    other = world.create(fmt)
    wanted = {created.service_request_id, other.service_request_id}
    older = ids_of(ok(client.requests("json", {"status": "closed"}), "requests"))[:1]
    wanted |= set(older)
    items = ok(client.requests(fmt, {"service_request_id": ",".join(sorted(wanted))}), "requests")
    got = ids_of(items)
    assert sorted(got) == sorted(wanted), f"asked for {sorted(wanted)}, got {got}"


@pytest.mark.parametrize("fmt", FORMATS)
def test_requests_service_request_id_overrides_other_arguments(client, created, fmt):
    # The spec: service_request_id "overrides all other arguments".
    params = {
        "service_request_id": created.service_request_id,
        "status": "closed",
        "service_code": "no-such-service-code",
        "start_date": "2001-01-01T00:00:00Z",
        "end_date": "2001-01-31T00:00:00Z",
    }
    items = ok(client.requests(fmt, params), "requests")
    assert ids_of(items) == [created.service_request_id]


@pytest.mark.parametrize("fmt", FORMATS)
def test_requests_by_service_code(client, world, created, fmt):
    code = str(created.service["service_code"])
    items = ok(client.requests(fmt, {"service_code": code}), "requests")
    assert all(str(i["service_code"]) == code for i in items), \
        f"service_code={code} returned {sorted({str(i['service_code']) for i in items})}"
    if len(items) < 1000:
        assert created.service_request_id in ids_of(items)
    codes = [str(s["service_code"]) for s in world.services[:2]]
    items = ok(client.requests(fmt, {"service_code": ",".join(codes)}), "requests")
    assert {str(i["service_code"]) for i in items} <= set(codes)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("status", ["open", "closed", "open,closed"])
def test_requests_by_status(client, created, fmt, status):
    items = ok(client.requests(fmt, {"status": status}), "requests")
    allowed = set(status.split(","))
    assert {i["status"] for i in items} <= allowed
    listed = created.service_request_id in ids_of(items)
    if "open" in allowed and len(items) < 1000:
        assert listed, f"the open request {created.service_request_id} is missing"
    if "open" not in allowed:
        assert not listed, f"the open request {created.service_request_id} came back as closed"


@pytest.mark.parametrize("fmt", FORMATS)
def test_requests_status_list_is_the_union(client, created, fmt):
    open_ids = ids_of(ok(client.requests(fmt, {"status": "open"}), "requests"))
    closed_ids = ids_of(ok(client.requests(fmt, {"status": "closed"}), "requests"))
    both_ids = ids_of(ok(client.requests(fmt, {"status": "open,closed"}), "requests"))
    assert both_ids, "no requests at all"
    if max(len(open_ids), len(closed_ids), len(both_ids)) < 1000:
        assert sorted(both_ids) == sorted(open_ids + closed_ids)


def _check_range(items: list[dict], start: dt.datetime | None, end: dt.datetime | None):
    for item in items:
        when = o3.parse_datetime(item["requested_datetime"])
        assert start is None or when >= start, f"{item['service_request_id']} at {when} < {start}"
        assert end is None or when <= end, f"{item['service_request_id']} at {when} > {end}"


@pytest.mark.parametrize("fmt", FORMATS)
def test_requests_by_date_range(client, created, fmt):
    # A range around now, in UTC (Z): holds the request just created.
    start, end = now() - dt.timedelta(days=1), now() + dt.timedelta(hours=1)
    items = ok(client.requests(fmt, {"start_date": o3.w3(start), "end_date": o3.w3(end)}),
               "requests")
    _check_range(items, start.replace(microsecond=0), end)
    if len(items) < 1000:
        assert created.service_request_id in ids_of(items)

    # A past range, with +08:00 offsets: nothing from today.
    start, end = now() - dt.timedelta(days=60), now() - dt.timedelta(days=30)
    items = ok(client.requests(fmt, {"start_date": o3.w3(start, 8), "end_date": o3.w3(end, 8)}),
               "requests")
    _check_range(items, start.replace(microsecond=0), end)
    assert created.service_request_id not in ids_of(items)

    # start_date alone, end_date alone.
    start = now() - dt.timedelta(days=7)
    items = ok(client.requests(fmt, {"start_date": o3.w3(start)}), "requests")
    _check_range(items, start.replace(microsecond=0), None)
    end = now() - dt.timedelta(days=3)
    items = ok(client.requests(fmt, {"end_date": o3.w3(end)}), "requests")
    _check_range(items, None, end)
    assert created.service_request_id not in ids_of(items)


@pytest.mark.parametrize("fmt", FORMATS)
def test_requests_empty_optional_arguments(client, created, fmt):
    # The spec: an optional parameter passed empty is the same as one not passed.
    empty = {"service_request_id": "", "service_code": "", "status": "",
             "start_date": "", "end_date": "", "jurisdiction_id": ""}
    for _ in range(3):  # the demo city may move while we read it
        before = sorted(ids_of(ok(client.requests(fmt), "requests")))
        with_empty = sorted(ids_of(ok(client.requests(fmt, empty), "requests")))
        after = sorted(ids_of(ok(client.requests(fmt), "requests")))
        if with_empty in (before, after):
            return
    pytest.fail("GET requests with empty optional arguments differs from the plain query")


# ------------------------------------------------------------------------- Jiesu conventions


@pytest.mark.parametrize("fmt", FORMATS)
def test_extensions_only_when_asked(client, world, created, fmt):
    plain = ok(client.requests(fmt, {"service_request_id": created.service_request_id}),
               "requests")
    assert all("extended_attributes" not in item for item in plain), plain
    assert "extended_attributes" not in world.fetch(created)

    listed = ok(client.requests(fmt, {"service_request_id": created.service_request_id,
                                      "extensions": "true"}), "requests")
    assert listed and all("extended_attributes" in item for item in listed), listed
    assert "extended_attributes" in world.fetch(created, extensions="true")

    many = ok(client.requests(fmt, {"extensions": "true", "status": "closed"}), "requests")
    assert all("extended_attributes" in item for item in many)


@pytest.mark.parametrize("fmt", FORMATS)
def test_extension_history_starts_with_acceptance(world, created, fmt):
    item = world.fetch(created, extensions="true", api_key=API_KEY)
    extended = item["extended_attributes"]
    history = extended["history"]
    assert history, "a new request has an empty history"
    moments = [o3.parse_datetime(entry["at"]) for entry in history]
    assert moments == sorted(moments), f"history is not in time order: {history}"
    requested = o3.parse_datetime(item["requested_datetime"])
    assert abs(moments[0] - requested) <= dt.timedelta(minutes=1), \
        f"the first history entry ({history[0]}) is not the acceptance at {requested}"
    assert extended["satisfaction"] is None, "a new request has no satisfaction rating yet"


@pytest.mark.parametrize("fmt", FORMATS)
def test_personal_details_need_the_api_key(client, world, created, fmt):
    sid = created.service_request_id
    marker = created.marker  # in the address_string

    for item in (world.fetch(created, fmt, api_key=API_KEY),
                 ok(client.requests(fmt, {"service_request_id": sid, "api_key": API_KEY}),
                    "requests")[0]):
        assert item["lat"] == pytest.approx(LAT, abs=1e-6), item
        assert item["long"] == pytest.approx(LONG, abs=1e-6), item
        assert marker in (item["address"] or ""), f"full address missing with the key: {item}"

    for item in (world.fetch(created, fmt),
                 ok(client.requests(fmt, {"service_request_id": sid}), "requests")[0]):
        assert item.get("lat") is None and item.get("long") is None, \
            f"lat/long shown without an api_key: {item}"
        assert marker not in (item.get("address") or ""), \
            f"the full address is shown without an api_key: {item['address']!r}"


# ------------------------------------------------------------------------- errors


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("key", [None, "", "not-the-key"], ids=["missing", "empty", "wrong"])
def test_post_without_valid_api_key_is_403(client, world, fmt, key):
    service = world.plain_service()
    marker = new_marker()
    form = world.form(service, marker, [("lat", LAT), ("long", LONG)], drop=("api_key",))
    if key is not None:
        form.append(("api_key", key))
    before, _ = count_recent(client)
    expect_error(client.post_request(fmt, form), 403)
    assert_nothing_created(client, before, marker)


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_without_service_code_is_400(client, world, fmt):
    marker = new_marker()
    form = world.form(world.plain_service(), marker, [("lat", LAT), ("long", LONG)],
                      drop=("service_code",))
    before, _ = count_recent(client)
    expect_error(client.post_request(fmt, form), 400)
    assert_nothing_created(client, before, marker)


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_unknown_service_code_is_404(client, world, fmt):
    # POST's Possible Errors: "404 - service_code or jurisdiction_id was not found".
    marker = new_marker()
    form = world.form(world.plain_service(), marker, [("lat", LAT), ("long", LONG)],
                      attributes=False, drop=("service_code",))
    form.append(("service_code", "no-such-service-code"))
    before, _ = count_recent(client)
    expect_error(client.post_request(fmt, form), 404)
    assert_nothing_created(client, before, marker)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("location", [[], [("lat", LAT)], [("long", LONG)]],
                         ids=["none", "lat-only", "long-only"])
def test_post_without_location_is_400(client, world, fmt, location):
    marker = new_marker()
    form = world.form(world.plain_service(), marker, location)
    before, _ = count_recent(client)
    expect_error(client.post_request(fmt, form), 400)
    assert_nothing_created(client, before, marker)


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_without_description_is_400(client, world, fmt):
    marker = new_marker()
    form = world.form(world.plain_service(), marker,
                      [("lat", LAT), ("long", LONG), ("address_string", address_for(marker))],
                      drop=("description",))
    before, _ = count_recent(client)
    expect_error(client.post_request(fmt, form), 400)
    after, items = count_recent(client)
    leaked = [i for i in items if marker in (i.get("address") or "")]
    assert not leaked, f"a POST without description created {ids_of(leaked)}"
    assert after == before, f"a POST without description changed the count {before} -> {after}"


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_missing_required_attribute_is_400(client, world, fmt):
    service, definition = world.service_with_attributes(required=True)
    required = [a for a in definition["attributes"] if a["variable"] and a["required"]]
    missing = str(required[0]["code"])
    marker = new_marker()
    form = [(k, v) for k, v in world.form(service, marker, [("lat", LAT), ("long", LONG)])
            if not k.startswith(f"attribute[{missing}]")]
    before, _ = count_recent(client)
    expect_error(client.post_request(fmt, form), 400)
    assert_nothing_created(client, before, marker)


@pytest.mark.parametrize("fmt", FORMATS)
def test_unknown_service_definition_is_404(client, fmt):
    expect_error(client.service_definition("no-such-service-code", fmt), 404)


@pytest.mark.parametrize("fmt", FORMATS)
def test_unknown_service_request_is_404(client, fmt):
    expect_error(client.request("999999999999999", fmt), 404)
    expect_error(client.request("no-such-request", fmt), 404)


@pytest.mark.parametrize("fmt", FORMATS)
def test_unknown_token_is_404(client, fmt):
    expect_error(client.token("no-such-token", fmt), 404)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("param,value", [
    ("start_date", "not-a-date"),
    ("start_date", "2026-13-01T00:00:00Z"),
    ("start_date", "2026-11-31T25:00:00Z"),
    ("end_date", "yesterday"),
])
def test_requests_malformed_date_is_400(client, fmt, param, value):
    expect_error(client.requests(fmt, {param: value}), 400)


@pytest.mark.parametrize("fmt", FORMATS)
def test_requests_unknown_status_is_400(client, fmt):
    # status options are open and closed; anything else cannot be fulfilled (400).
    expect_error(client.requests(fmt, {"status": "pending"}), 400)


@pytest.mark.parametrize("fmt", FORMATS)
def test_unknown_jurisdiction_is_404(client, world, created, fmt):
    unknown = {"jurisdiction_id": "no-such-jurisdiction.example"}
    expect_error(client.services(fmt, unknown), 404)
    expect_error(client.service_definition(world.services[0]["service_code"], fmt, unknown), 404)
    expect_error(client.requests(fmt, unknown), 404)
    expect_error(client.request(created.service_request_id, fmt, unknown), 404)
    marker = new_marker()
    form = world.form(world.plain_service(), marker, [("lat", LAT), ("long", LONG)],
                      extra=[("jurisdiction_id", unknown["jurisdiction_id"])])
    before, _ = count_recent(client)
    expect_error(client.post_request(fmt, form), 404)
    assert_nothing_created(client, before, marker)
