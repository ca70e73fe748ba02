"""Output records are written as orjson with sorted keys would write them."""
from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.output_json import dumps_sorted

# What records hold: str keys; str, int (64-bit), bool, None, list and dict values.
texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2 ** 63), 2 ** 64 - 1), texts)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(texts, inner, max_size=5)), max_leaves=30)


@settings(max_examples=500)
@given(st.dictionaries(texts, values, max_size=8))
def test_same_bytes_as_orjson_with_sorted_keys(record):
    assert dumps_sorted(record) == orjson.dumps(record, option=orjson.OPT_SORT_KEYS)


def test_keys_are_sorted_at_every_level_by_code_point():
    record = {"b": {"z": 1, "a": [{"y": None, "x": True}]}, "a": "\u00e9", "\U0001f600": 0, "\uffff": 1}
    assert dumps_sorted(record) == (
        '{"a":"\u00e9","b":{"a":[{"x":true,"y":null}],"z":1},"\uffff":1,"\U0001f600":0}'.encode())
