import datetime
import decimal
import uuid

import orjson
import pytest
from django.utils.translation import gettext_lazy
from rest_framework.renderers import JSONRenderer as DRFJSONRenderer

from config.renderers import JSONRenderer, WrittenJSON

SAMPLES = [
    {"id": 1, "handle": "ann", "online": True, "last_seen": None, "score": 1.5},
    [{"body": 'héllo 👋 <b>&amp;</b> "quoted" \\ back', "seq": 10**12}],
    {"at": datetime.datetime(2026, 11, 30, 8, 30, 1, 123456, tzinfo=datetime.UTC), "day": datetime.date(2026, 11, 30)},
    {"naive": datetime.datetime(2026, 11, 30, 8, 30), "time": datetime.time(8, 30, 15)},
    {"amount": decimal.Decimal("12.50"), "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678")},
    {"lazy": gettext_lazy("This field is required."), 3: "an int key"},
    {"separators": "line\u2028paragraph\u2029end"},
    {"paragraph only": "\u2029", "other E2 characters": "\u2026 \u20ac \u2014 \u2027\u202a"},
    [],
    {},
]


@pytest.mark.parametrize("data", SAMPLES)
def test_the_body_is_byte_for_byte_what_drfs_renderer_writes(data):
    assert JSONRenderer().render(data) == DRFJSONRenderer().render(data)


def test_an_indented_body_asked_for_is_still_indented():
    body = JSONRenderer().render({"a": 1}, "application/json; indent=2")
    assert body == b'{\n  "a": 1\n}'


def test_no_data_is_an_empty_body():
    assert JSONRenderer().render(None) == b""


@pytest.mark.parametrize("data", SAMPLES)
def test_json_written_already_goes_out_as_drf_would_write_it(data):
    # As PostgreSQL writes the rooms list: JSON text, U+2028 and U+2029 left raw.
    written = WrittenJSON(orjson.dumps(orjson.loads(DRFJSONRenderer().render(data))).decode())
    value = orjson.loads(DRFJSONRenderer().render(data))
    assert JSONRenderer().render(written) == DRFJSONRenderer().render(value)
    assert JSONRenderer().render(written, "application/json; indent=2") == DRFJSONRenderer().render(
        value, "application/json; indent=2"
    )
