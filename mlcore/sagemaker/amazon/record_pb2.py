"""``sagemaker.amazon.record_pb2``: the message classes of SageMaker's ``record.proto``
(package ``aialgs.data``), built at import from a descriptor written out here instead of
protoc's generated module, so ``Record``, ``Value``, ``Float32Tensor``, ... behave as the SDK's
(``record.features["values"].float32_tensor.values``, ``ParseFromString``,
``SerializeToString``).

The proto2 file, field for field::

    message Float32Tensor { repeated float  values = 1 [packed = true];
                            repeated uint64 keys = 2 [packed = true];
                            repeated uint64 shape = 3 [packed = true]; }
    message Float64Tensor { ... double values ... }   message Int32Tensor { ... int32 values ... }
    message Bytes  { repeated bytes value = 1; optional string content_type = 2; }
    message Value  { oneof value { Float32Tensor float32_tensor = 2; Float64Tensor
                     float64_tensor = 3; Int32Tensor int32_tensor = 7; Bytes bytes = 9; } }
    message Record { map<string, Value> features = 1; map<string, Value> label = 2;
                     optional string uid = 3; optional string metadata = 4;
                     optional string configuration = 5; }

The classes live in a pool of their own, so SageMaker's generated ``record_pb2`` can be
imported in the same process without a duplicate-symbol error.
"""

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto
PACKAGE = "aialgs.data"


def _field(message, name: str, number: int, kind: int, label: int = _F.LABEL_OPTIONAL,
           type_name: str | None = None, packed: bool = False, oneof: int | None = None):
    field = message.field.add(name=name, number=number, type=kind, label=label)
    if type_name:
        field.type_name = f".{PACKAGE}.{type_name}"
    if packed:
        field.options.packed = True
    if oneof is not None:
        field.oneof_index = oneof
    return field


def _tensor(file, name: str, kind: int) -> None:
    message = file.message_type.add(name=name)
    _field(message, "values", 1, kind, _F.LABEL_REPEATED, packed=True)
    _field(message, "keys", 2, _F.TYPE_UINT64, _F.LABEL_REPEATED, packed=True)
    _field(message, "shape", 3, _F.TYPE_UINT64, _F.LABEL_REPEATED, packed=True)


def _map(message, name: str, number: int, entry: str) -> None:
    """``map<string, Value> name = number``: protoc's nested ``<Name>Entry`` message."""
    nested = message.nested_type.add(name=entry)
    nested.options.map_entry = True
    _field(nested, "key", 1, _F.TYPE_STRING)
    _field(nested, "value", 2, _F.TYPE_MESSAGE, type_name="Value")
    _field(message, name, number, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, type_name=f"Record.{entry}")


def _file() -> descriptor_pb2.FileDescriptorProto:
    file = descriptor_pb2.FileDescriptorProto(name="sagemaker/amazon/record.proto",
                                              package=PACKAGE, syntax="proto2")
    file.options.java_package = "com.amazonaws.aialgorithms.proto"
    file.options.java_outer_classname = "RecordProtos"
    _tensor(file, "Float32Tensor", _F.TYPE_FLOAT)
    _tensor(file, "Float64Tensor", _F.TYPE_DOUBLE)
    _tensor(file, "Int32Tensor", _F.TYPE_INT32)
    data = file.message_type.add(name="Bytes")
    _field(data, "value", 1, _F.TYPE_BYTES, _F.LABEL_REPEATED)
    _field(data, "content_type", 2, _F.TYPE_STRING)
    value = file.message_type.add(name="Value")
    value.oneof_decl.add(name="value")
    for name, number, kind in (("float32_tensor", 2, "Float32Tensor"),
                               ("float64_tensor", 3, "Float64Tensor"),
                               ("int32_tensor", 7, "Int32Tensor"), ("bytes", 9, "Bytes")):
        _field(value, name, number, _F.TYPE_MESSAGE, type_name=kind, oneof=0)
    record = file.message_type.add(name="Record")
    _map(record, "features", 1, "FeaturesEntry")
    _map(record, "label", 2, "LabelEntry")
    for name, number in (("uid", 3), ("metadata", 4), ("configuration", 5)):
        _field(record, name, number, _F.TYPE_STRING)
    return file


_pool = descriptor_pool.DescriptorPool()
DESCRIPTOR = _pool.Add(_file())


def _class(name: str):
    return message_factory.GetMessageClass(_pool.FindMessageTypeByName(f"{PACKAGE}.{name}"))


Float32Tensor, Float64Tensor, Int32Tensor = (_class(n) for n in ("Float32Tensor", "Float64Tensor",
                                                                 "Int32Tensor"))
Bytes, Value, Record = _class("Bytes"), _class("Value"), _class("Record")

__all__ = ["Bytes", "DESCRIPTOR", "Float32Tensor", "Float64Tensor", "Int32Tensor", "Record",
           "Value"]
