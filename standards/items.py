"""A seller's items of one kind (its threads, orders, ...), packed.

An item at rest is its stored form (a few dozen bytes of MessagePack) under
its id. Kept as a dict of id to bytes, each item cost ~190 B of the worker's
memory besides those bytes: a str for the id (49 B + its length), a bytes
object (33 B) and its slot in the dict (~60 B). Here the ids and stored forms
are packed together into a few bytes objects, buckets of about
`BUCKET_ITEMS` entries chosen by the id's hash, so that an item costs its id
and stored form, a byte for each of their lengths and its share of its
bucket.

An item being changed is kept unpacked, as an object, beside the buckets
until it is packed again when written (and a new item until it is first
written): it hides its packed form, which it has made stale.
"""
from __future__ import annotations

from typing import Iterator, Optional

BUCKET_ITEMS = 8  # entries per bucket on average before the buckets double


class PackedItems:
    """A mapping of item id to the item's stored form (bytes) or the item
    itself (unpacked), with the memory of packed items kept small."""

    __slots__ = ("_buckets", "_packed", "_unpacked")

    def __init__(self) -> None:
        # One bucket as it is (most sellers have a few items of a kind: a
        # list would take 64 B more), or a list of a power of two of them.
        self._buckets: bytes | list[bytes] = b""
        self._packed = 0  # entries in the buckets
        self._unpacked: Optional[dict] = None  # {item id: item}, None when there is none

    @classmethod
    def of(cls, stored_forms: dict[str, bytes]) -> "PackedItems":
        """Items packed from their stored forms by id, all at once."""
        items = cls()
        items._fill([(item_id, _entry(_marker(item_id), value)) for item_id, value in stored_forms.items()])
        return items

    def get(self, item_id: str, default=None):
        unpacked = self._unpacked
        if unpacked is not None:
            item = unpacked.get(item_id)
            if item is not None:
                return item
        bucket = self._bucket(item_id)[1]
        found = _find(bucket, _marker(item_id))
        return default if found is None else bucket[found[1]:found[2]]

    def __setitem__(self, item_id: str, value) -> None:
        """Bytes are packed (the item's unpacked object, if any, dropped);
        anything else is kept unpacked until bytes come for the id."""
        if type(value) is not bytes:
            if self._unpacked is None:
                self._unpacked = {}
            self._unpacked[item_id] = value
            return
        self._drop_unpacked(item_id)
        at, bucket = self._bucket(item_id)
        marker = _marker(item_id)
        found = _find(bucket, marker)
        if found is None:
            self._put(at, bucket + _entry(marker, value))
            self._packed += 1
            if self._packed > BUCKET_ITEMS * (1 if at < 0 else len(self._buckets)):
                self._refill()
        elif bucket[found[1]:found[2]] != value:
            self._put(at, b"".join((bucket[:found[0]], _entry(marker, value), bucket[found[2]:])))

    def __delitem__(self, item_id: str) -> None:
        dropped = self._drop_unpacked(item_id)
        at, bucket = self._bucket(item_id)
        found = _find(bucket, _marker(item_id))
        if found is not None:
            self._put(at, bucket[:found[0]] + bucket[found[2]:])
            self._packed -= 1
            if at >= 0 and 4 * self._packed < BUCKET_ITEMS * len(self._buckets):  # most items expired
                self._refill()
        elif not dropped:
            raise KeyError(item_id)

    def __contains__(self, item_id: str) -> bool:
        return self.get(item_id) is not None

    def items(self) -> list[tuple[str, object]]:
        """(id, item or stored form) of every item, a list: the mapping may
        change while it is gone through."""
        unpacked = self._unpacked
        if unpacked is None:
            return list(_packed_items(self._all_buckets()))
        if not self._packed:
            return list(unpacked.items())
        items = [(item_id, unpacked.get(item_id, value)) for item_id, value in _packed_items(self._all_buckets())]
        packed_ids = {item_id for item_id, _ in items}
        items += [(item_id, item) for item_id, item in unpacked.items() if item_id not in packed_ids]
        return items

    def values(self) -> Iterator:
        """Every item or stored form (ids are not decoded when nothing is unpacked)."""
        if self._unpacked is None:
            return (bucket[value_start:end] for bucket in self._all_buckets()
                    for _, _, _, value_start, end in _entries(bucket))
        if not self._packed:
            return iter(self._unpacked.values())
        return (value for _, value in self.items())

    def __iter__(self) -> Iterator[str]:
        return iter([item_id for item_id, _ in self.items()])

    def __len__(self) -> int:
        return len(self.items())

    def __bool__(self) -> bool:
        return self._packed > 0 or self._unpacked is not None

    def _bucket(self, item_id: str) -> tuple[int, bytes]:
        """(index, bytes) of the id's bucket; index -1 for the only one."""
        buckets = self._buckets
        if type(buckets) is bytes:
            return -1, buckets
        at = hash(item_id) & (len(buckets) - 1)
        return at, buckets[at]

    def _put(self, at: int, bucket: bytes) -> None:
        if at < 0:
            self._buckets = bucket
        else:
            self._buckets[at] = bucket

    def _all_buckets(self) -> list[bytes]:
        buckets = self._buckets
        return [buckets] if type(buckets) is bytes else buckets

    def _drop_unpacked(self, item_id: str) -> bool:
        unpacked = self._unpacked
        if unpacked is None or item_id not in unpacked:
            return False
        del unpacked[item_id]
        if not unpacked:
            self._unpacked = None  # an emptied dict keeps its table
        return True

    def _refill(self) -> None:
        """The entries in as many buckets as they need now."""
        self._fill([(bucket[key_start:key_end].decode(), bucket[start:end])
                    for bucket in self._all_buckets() for start, key_start, key_end, _, end in _entries(bucket)])

    def _fill(self, entries: list[tuple[str, bytes]]) -> None:
        """Buckets of these (id, entry): as few as hold `BUCKET_ITEMS` each on average."""
        count = 1
        while len(entries) > BUCKET_ITEMS * count:
            count *= 2
        if count == 1:
            self._buckets = b"".join(entry for _, entry in entries)
        else:
            spread: list[list[bytes]] = [[] for _ in range(count)]
            for item_id, entry in entries:
                spread[hash(item_id) & (count - 1)].append(entry)
            self._buckets = [b"".join(bucket) for bucket in spread]
        self._packed = len(entries)


# An entry is two fields, the id (UTF-8) and the stored form, each its length
# and its bytes; a length is one byte below 128, more (7 bits a byte) above.

def _marker(item_id: str) -> bytes:
    """The id's field, which starts its entry. (Ids come from JSON decoded by
    orjson or msgspec, which refuse lone surrogates: they encode.)"""
    key = item_id.encode()
    return _length(len(key)) + key


def _entry(marker: bytes, value: bytes) -> bytes:
    return b"".join((marker, _length(len(value)), value))


def _length(size: int) -> bytes:
    if size < 0x80:
        return _SMALL_LENGTHS[size]
    out = bytearray()
    while size >= 0x80:
        out.append(size & 0x7F | 0x80)
        size >>= 7
    out.append(size)
    return bytes(out)


_SMALL_LENGTHS = [bytes((size,)) for size in range(0x80)]


def _read_length(bucket: bytes, at: int) -> tuple[int, int]:
    """(length, where its bytes start) of the field at `at`."""
    size = shift = 0
    while True:
        byte = bucket[at]
        at += 1
        size |= (byte & 0x7F) << shift
        if byte < 0x80:
            return size, at
        shift += 7


def _skip(bucket: bytes, at: int) -> int:
    """Where the field at `at` ends, when its length takes more than a byte
    (the callers step over the others themselves)."""
    size, at = _read_length(bucket, at)
    return at + size


def _entries(bucket: bytes) -> Iterator[tuple[int, int, int, int, int]]:
    """(entry start, id start, id end, stored form start, entry end) of each entry."""
    at, bucket_end = 0, len(bucket)
    while at < bucket_end:
        key_start, size = at + 1, bucket[at]
        if size >= 0x80:
            size, key_start = _read_length(bucket, at)
        key_end = key_start + size
        value_start, size = key_end + 1, bucket[key_end]
        if size >= 0x80:
            size, value_start = _read_length(bucket, key_end)
        yield at, key_start, key_end, value_start, value_start + size
        at = value_start + size


def _find(bucket: bytes, marker: bytes) -> Optional[tuple[int, int, int]]:
    """(entry start, stored form start, entry end) of the entry that starts
    with `marker`. Every event looks its item up, so the marker is searched
    for, and the entries are walked only as far as it, to see that it starts
    one rather than lying inside an id or a stored form."""
    found = bucket.find(marker)
    at = 0
    while found >= 0:
        while at < found:  # each entry's two fields; the length's first byte alone below 128
            size = bucket[at]
            at = at + 1 + size if size < 0x80 else _skip(bucket, at)
            size = bucket[at]
            at = at + 1 + size if size < 0x80 else _skip(bucket, at)
        if at == found:
            value_size, value_start = _read_length(bucket, found + len(marker))
            return found, value_start, value_start + value_size
        found = bucket.find(marker, found + 1)
    return None


def _packed_items(buckets: list[bytes]) -> Iterator[tuple[str, bytes]]:
    for bucket in buckets:
        for _, key_start, key_end, value_start, end in _entries(bucket):
            yield bucket[key_start:key_end].decode(), bucket[value_start:end]
