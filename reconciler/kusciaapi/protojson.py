"""KusciaAPI's JSON, as Kuscia's HTTP port (8082) reads and writes it: protojson.

Requests (Kuscia's ``binder.JSONProtoBinder``: ``protojson.Unmarshal`` with ``DiscardUnknown``) accept both
spellings of a field (``job_id`` and ``jobId``), enums as name or number, 64-bit integers as number or string,
and ignore unknown fields; ``decode`` returns the request as a dict in proto names, with protobuf's own
``MessageToDict`` conventions (unset fields absent, 64-bit integers as strings, enums by name).

Responses (Kuscia's ``ProtoDecorator``: ``protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated:
true}``) use proto names and emit every field: an unset message is ``null``, an empty list ``[]``, a 64-bit
integer a string; ``encode`` gives that shape for a response dict built by the service.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Mapping
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from reconciler.kuscia.codes import UNEXPECTED
from reconciler.kusciaapi.errors import APIError
from reconciler.kusciaapi.messages import message

_INT64 = {
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_FIXED64,
    FieldDescriptor.TYPE_SFIXED64,
}
_INT32 = {
    FieldDescriptor.TYPE_INT32,
    FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_SINT32,
    FieldDescriptor.TYPE_FIXED32,
    FieldDescriptor.TYPE_SFIXED32,
}
_FLOAT = {FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE}


def decode(message_name: str, body: bytes | Mapping[str, Any]) -> dict[str, Any]:
    """A request body (JSON text, or already parsed) as the message ``message_name``, in proto field names.

    Raises APIError(11101, HTTP 200) when the body is not JSON or does not fit the message (a string where a
    number belongs, an unknown enum name, ...), as Kuscia's ``UnexpectedErrorHandler`` answers."""
    try:
        doc = json.loads(body or b"{}") if isinstance(body, bytes | bytearray) else body
        msg = json_format.ParseDict(doc, message(message_name)(), ignore_unknown_fields=True)
    except (ValueError, json_format.ParseError, TypeError, AttributeError) as exc:
        # ValueError covers json.JSONDecodeError and UnicodeDecodeError
        raise APIError(UNEXPECTED, f"proto: syntax error: {exc}") from None
    return from_message(msg)


def from_message(msg: Message) -> dict[str, Any]:
    """A received message as a dict in proto field names (unset fields absent)."""
    return json_format.MessageToDict(msg, preserving_proto_field_name=True)


def to_message(message_name: str, data: Mapping[str, Any]) -> Message:
    """A response dict as the message ``message_name`` (fields the message lacks are dropped)."""
    return json_format.ParseDict(data, message(message_name)(), ignore_unknown_fields=True)


def encode(message_name: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` shaped as protojson with proto names and every field emitted (see the module's docstring)."""
    return _emit(message(message_name).DESCRIPTOR, data)


@functools.cache
def _fields(desc: Descriptor) -> tuple[tuple[str, FieldDescriptor, bool], ...]:
    return tuple(
        (
            f.name,
            f,
            f.type == FieldDescriptor.TYPE_MESSAGE and f.message_type.GetOptions().map_entry,
        )
        for f in desc.fields
    )


def _emit(desc: Descriptor, data: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, f, is_map in _fields(desc):
        value = data.get(name)
        if is_map:
            value_field = f.message_type.fields_by_name["value"]
            out[name] = {str(k): _scalar(value_field, v) for k, v in (value or {}).items()}
        elif f.is_repeated:
            out[name] = [_scalar(f, v) for v in value or ()]
        elif f.type == FieldDescriptor.TYPE_MESSAGE and value is None:
            out[name] = None
        else:
            out[name] = _scalar(f, value)
    return out


def _scalar(f: FieldDescriptor, value: Any) -> Any:
    t = f.type
    if t == FieldDescriptor.TYPE_MESSAGE:
        if f.message_type.full_name == "google.protobuf.Any":
            return value
        return _emit(f.message_type, value or {})
    if t == FieldDescriptor.TYPE_STRING:
        return "" if value is None else str(value)
    if t == FieldDescriptor.TYPE_BOOL:
        return bool(value)
    if t in _INT32:
        return int(value or 0)
    if t in _INT64:
        return str(int(value or 0))
    if t in _FLOAT:
        return float(value or 0)
    if t == FieldDescriptor.TYPE_ENUM:
        if isinstance(value, str):
            return value
        number = f.enum_type.values_by_number.get(int(value or 0))
        return number.name if number is not None else int(value or 0)
    if t == FieldDescriptor.TYPE_BYTES:
        return base64.b64encode(value or b"").decode()
    return value
