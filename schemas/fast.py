"""The fast path of schemas.validate.decode_event: msgspec, for valid events.

`compile_fast_decoder` turns the JSON schemas into one msgspec tagged union
(a Struct per event type, tag field `type`) whose constraints say what the
schemas say; a decoded struct's `normalized()` is the dict that
`schemas.validate.normalize` makes of the same event. Whatever this path
cannot prove valid (msgspec raises, orjson raises, a conversion raises)
takes the full path (orjson + fastjsonschema + normalize), which decides
and explains: so this path may reject more than the full path, never
accept more, and what it accepts it decodes to the identical dict.

msgspec alone accepts more than the full path: it skips the values of
unknown fields without checking that their strings (and keys) are valid
UTF-8, without parsing their numbers (`1e400`, or 400 digits, overflow a
double: orjson rejects them), and its nesting limit is Python's recursion
limit (orjson's is 1024). So an event msgspec accepts is also parsed by
orjson, the full path's parser: its acceptance decides what JSON is, here
as there. (Checking the bytes for these cases instead costs more than orjson
does: each scan of the bytes from Python is about as slow as orjson.)

A repeated key keeps its last value in msgspec, as in orjson; a `type`
given twice with different values makes msgspec raise (fallback).

Timestamps and money are checked by their conversion (parse_timestamp,
parse_cents), not by the schemas' regex patterns: each conversion accepts a
subset of what its pattern accepts (both fix the same layout; the conversion
checks the ranges the pattern checks, and more), so the pattern needs no
separate check. `compile_fast_decoder` refuses a schema keyword or pattern
it does not know, so a changed schema cannot silently disagree.
"""
from __future__ import annotations

import keyword
from typing import Annotated, Any, Callable, Literal, Optional, Union

import msgspec

# Patterns whose every string accepted by the field's conversion matches
# (checked by a test): "YYYY-MM-DDTHH:MM:SS[.ffffff](Z|+HH:MM)" and money.
TIMESTAMP_PATTERN = (
    "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    "(\\.[0-9]{1,6})?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)
MONEY_PATTERN = "^[0-9]{1,12}(\\.[0-9]{1,2})?$"

# The field naming an events file line's topic (streams.backfill); never a contract field.
TOPIC_FIELD = "_topic"

_KNOWN_SCHEMA_KEYWORDS = {"$schema", "title", "description", "type", "required", "properties", "additionalProperties"}
_KNOWN_KEYWORDS = {"description", "type", "minLength", "enum", "default", "pattern", "minimum", "maximum"}


def _field_type(event_type: str, name: str, prop: dict, converted: bool):
    """The msgspec type of one schema property (raises on what it cannot express)."""
    unknown = set(prop) - _KNOWN_KEYWORDS
    if unknown:
        raise ValueError(f"{event_type}.{name}: schema keywords {sorted(unknown)} have no fast-path rule")
    types = prop.get("type")
    types = [types] if isinstance(types, str) else list(types or ())
    nullable = "null" in types
    if nullable:
        types.remove("null")
    if len(types) != 1:
        raise ValueError(f"{event_type}.{name}: type {prop.get('type')!r} has no fast-path rule")
    kind = types[0]
    if "pattern" in prop:
        expected = {"occurred_at": TIMESTAMP_PATTERN, "ship_by": TIMESTAMP_PATTERN,
                    "total": MONEY_PATTERN, "amount": MONEY_PATTERN}.get(name)
        if not (converted and kind == "string" and prop["pattern"] == expected and "minLength" not in prop):
            raise ValueError(f"{event_type}.{name}: pattern {prop['pattern']!r} has no fast-path rule")
        result = str  # the conversion checks it (module docstring)
    elif "enum" in prop:
        values = [value for value in prop["enum"] if value is not None]
        if (kind != "string" or not values or not all(isinstance(v, str) for v in values)
                or (None in prop["enum"]) != nullable or "minLength" in prop):
            raise ValueError(f"{event_type}.{name}: enum {prop['enum']!r} has no fast-path rule")
        result = Literal[tuple(values)]
    elif kind == "string":
        min_length = prop.get("minLength", 0)
        if min_length not in (0, 1):  # 1 character = 1 code point, for msgspec and fastjsonschema alike
            raise ValueError(f"{event_type}.{name}: minLength {min_length} has no fast-path rule")
        result = Annotated[str, msgspec.Meta(min_length=1)] if min_length else str
    elif kind == "boolean":
        result = bool
    elif kind == "integer" and isinstance(prop.get("minimum"), int) and isinstance(prop.get("maximum"), int):
        # msgspec's int takes JSON integers only: not 4.0, 5e0 or true, as the contract says
        # (the full path: the schema, then normalize's _exact_int).
        result = Annotated[int, msgspec.Meta(ge=prop["minimum"], le=prop["maximum"])]
    else:
        raise ValueError(f"{event_type}.{name}: type {kind!r} has no fast-path rule")
    if ("minimum" in prop or "maximum" in prop) and kind != "integer":
        raise ValueError(f"{event_type}.{name}: minimum/maximum on {kind!r} have no fast-path rule")
    return Optional[result] if nullable else result


def _struct(event_type: str, schema: dict, plan: tuple, converters: dict) -> type:
    required = set(schema.get("required", ()))
    if not (set(schema) <= _KNOWN_SCHEMA_KEYWORDS and schema.get("type") == "object"
            and schema.get("additionalProperties", True) is True
            and schema["properties"].get("type") == {"const": event_type} and required <= set(schema["properties"])):
        raise ValueError(f"{event_type}: schema shape has no fast-path rule")
    fields = []
    for name, prop in schema["properties"].items():
        if name == "type":
            continue  # the tag
        if (name in (TOPIC_FIELD, "normalized") or not name.isidentifier() or keyword.iskeyword(name)
                or name.startswith("_")):
            raise ValueError(f"{event_type}.{name}: field name has no fast-path rule")
        field_type = _field_type(event_type, name, prop, converters.get(name) is not None)
        # A required field has no default, even when it may be null (tracking_number).
        # An optional one defaults to None; an explicit null is accepted only when
        # its type allows null (then normalize applies the default, as for absent).
        fields.append((name, field_type) if name in required else (name, field_type, None))
    return msgspec.defstruct(
        "Fast_" + event_type.replace(".", "_"), fields, tag_field="type", tag=event_type,
        forbid_unknown_fields=False, kw_only=True, frozen=True, gc=False, module=__name__,
        namespace={"normalized": _normalizer(event_type, schema, plan, converters)},
    )


def _normalizer(event_type: str, schema: dict, plan: tuple, converters: dict) -> Callable:
    """Struct -> the dict normalize makes of the same event: the contract's
    fields in the schema's order, absent -> None, a conversion applied to a
    value that is not None, then a field's default for None. Generated code."""
    names, _, defaults = plan
    default_of = dict(defaults)
    required = set(schema["required"])
    namespace: dict[str, Any] = {"_type": event_type}
    items = []
    for index, name in enumerate(names):
        if name == "type":
            items.append(f"{name!r}: _type")
            continue
        prop_type = schema["properties"][name].get("type")
        may_be_none = name not in required or "null" in ([prop_type] if isinstance(prop_type, str) else prop_type)
        value = f"s.{name}"
        if converters.get(name) is not None:
            namespace[f"_convert{index}"] = converters[name]
            value = f"_convert{index}(s.{name})"
            if may_be_none:
                value = f"(None if s.{name} is None else {value})"
        if name in default_of:
            namespace[f"_default{index}"] = default_of[name]
            value = f"(_default{index} if s.{name} is None else {value})"
        items.append(f"{name!r}: {value}")
    source = "def normalized(s):\n    return {" + ", ".join(items) + "}\n"
    exec(compile(source, f"<normalized() of {event_type}>", "exec"), namespace)
    normalized = namespace["normalized"]
    normalized.source = source
    return normalized


def compile_fast_decoder(schemas: dict, plans: dict, converters: dict) -> msgspec.json.Decoder:
    """A msgspec decoder of the tagged union of every event type's Struct; a
    decoded struct's `normalized()` is the dict `normalize` makes of the same
    event (it raises ValueError where a conversion does).

    `schemas`: event type -> JSON schema; `plans`: event type -> normalize's
    plan (names, converted fields, defaults); `converters`: field name ->
    the conversion to apply (None: the msgspec type is exact already, e.g.
    rating's int).

    Fast-path use: decode (msgspec error: fallback), then orjson.loads the
    same bytes (error: fallback; see the module docstring), then normalized().
    """
    structs = [_struct(event_type, schema, plans[event_type], converters) for event_type, schema in schemas.items()]
    return msgspec.json.Decoder(Union[tuple(structs)])
