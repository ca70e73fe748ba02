"""A seller's items packed into buckets (standards/items.py) answer as a dict
would, for any sequence of writes, deletes and reads; and a pass over a
seller's items unpacked (unpack_all, repack) keeps what changed during it."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec import msgpack

from standards.entities import Order, Thread
from standards.items import BUCKET_ITEMS, PackedItems, _marker
from standards.seller import SellerState, unpack

# Few distinct ids, some prefixes of others, some of 128 bytes or more (a
# two-byte length); stored forms made partly of other ids' fields, so that
# looking an id up meets its own field inside another entry.
IDS = st.sampled_from(["o", "o1", "o12", "1", "é", "x" * 130, "a\x00b", "日本", "o2"]) | st.text(min_size=1,
                                                                                                  max_size=4)
VALUES = st.lists(st.binary(max_size=12) | IDS.map(_marker), max_size=5).map(b"".join)
OPERATIONS = st.lists(st.tuples(st.sampled_from(["pack", "unpack", "delete", "get"]), IDS, VALUES),
                      max_size=60)


@settings(max_examples=400, deadline=None)
@given(OPERATIONS)
def test_packed_items_answer_as_a_dict(operations):
    items, model = PackedItems(), {}
    for operation, item_id, value in operations:
        if operation == "pack":
            items[item_id] = model[item_id] = value
        elif operation == "unpack":  # any object that is not bytes: an item being changed
            items[item_id] = model[item_id] = ("item", value)
        elif operation == "delete":
            if item_id in model:
                del items[item_id]
                del model[item_id]
            else:
                with pytest.raises(KeyError):
                    del items[item_id]
        assert items.get(item_id) == model.get(item_id)
        assert (item_id in items) == (item_id in model)
    assert dict(items.items()) == model
    assert len(items.items()) == len(items) == len(model)
    assert sorted(items) == sorted(model)
    assert sorted(map(repr, items.values())) == sorted(map(repr, model.values()))
    assert bool(items) == bool(model)


def test_many_items_and_long_fields():
    """Enough items for the buckets to double several times, and an id and a
    stored form longer than two-byte lengths hold."""
    items = PackedItems()
    model = {f"order-{n}": f"stored {n}".encode() * (n % 7) for n in range(40 * BUCKET_ITEMS)}
    model["i" * 300] = b"\x93" * 20_000
    for item_id, value in model.items():
        items[item_id] = value
    assert isinstance(items._buckets, list) and len(items._buckets) >= 40
    assert {item_id: items.get(item_id) for item_id in model} == model
    restored = PackedItems.of(model)  # as a restore packs a seller's items: all at once
    assert {item_id: restored.get(item_id) for item_id in model} == model and len(restored) == len(model)
    for n in range(0, 40 * BUCKET_ITEMS, 3):
        del items[f"order-{n}"]
        del model[f"order-{n}"]
    items["i" * 300] = model["i" * 300] = b"\x01"
    assert dict(items.items()) == model
    assert list(items.values()) == [value for _, value in items.items()]
    for item_id in list(model)[:-3]:  # expiry leaves a few: so do the buckets
        del items[item_id]
        del model[item_id]
    assert dict(items.items()) == model and isinstance(items._buckets, bytes)


def test_an_unpacked_item_hides_its_stale_packed_form_until_packed_again():
    items = PackedItems()
    items["t1"], items["t2"] = b"old", b"two"
    items["t1"] = "changed"
    assert items.get("t1") == "changed" and sorted(items.items()) == [("t1", "changed"), ("t2", b"two")]
    items["t1"] = b"new"
    assert items.get("t1") == b"new" and items._unpacked is None
    del items["t2"]
    items["t3"] = "new item, not yet packed"
    assert sorted(items) == ["t1", "t3"] and len(items) == 2


def test_a_pass_over_unpacked_items_keeps_what_changed_during_it():
    """unpack_all gives each collection as a dict of items; repack packs
    them again with the items changed or dropped during the pass."""
    seller = SellerState("s", 0)
    for order_id in ("a", "b", "c"):
        seller.apply({"type": "order.placed", "order_id": order_id, "occurred_at": 10, "event_id": order_id,
                      "total": 100, "ship_by": 50, "digital": False, "purchase_protected": True,
                      "tracking_required": False})
        seller.touch("orders", order_id)
    seller.apply({"type": "message.sent", "thread_id": "t", "sender_role": "buyer", "occurred_at": 5,
                   "event_id": "m"})
    seller.touch("threads", "t")
    stored = {(collection, item_id): value for collection, item_id, value in seller.take_dirty()}
    assert all(type(value) is bytes for value in stored.values())

    packed = seller.unpack_all()
    assert isinstance(seller.orders, dict) and isinstance(seller.orders["a"], Order)
    assert isinstance(seller.threads["t"], Thread)
    seller.orders["b"].cancelled_at = 20
    seller.touch("orders", "b")
    del seller.orders["c"]
    seller.touch("orders", "c")
    seller.repack(packed)

    assert isinstance(seller.orders, PackedItems) and sorted(seller.orders) == ["a", "b"]
    assert seller.orders.get("a") == stored[("orders", "a")]  # unchanged: its packed form of before
    assert seller.orders.get("b").cancelled_at == 20  # changed: unpacked until written
    assert seller.threads.get("t") == stored[("threads", "t")]
    written = {(collection, item_id): value for collection, item_id, value in seller.take_dirty()}
    assert written[("orders", "c")] is None
    assert unpack("orders", written[("orders", "b")]).cancelled_at == 20
    assert seller.orders.get("b") == written[("orders", "b")]


def test_a_loaded_seller_is_packed_by_the_pass_after_its_load():
    stored = {"a": msgpack.encode([None, 10, None, None, 0]), "b": msgpack.encode([None, 20, None, None, 0])}
    seller = SellerState.load("s", 0, {"f": None, "e": None, "l": {}},
                              [("orders", item_id, value) for item_id, value in stored.items()])
    packed = seller.unpack_all()
    assert isinstance(seller.orders, dict) and seller.orders["b"].cancelled_at == 20
    seller.repack(packed)
    assert isinstance(seller.orders, PackedItems) and dict(seller.orders.items()) == stored
