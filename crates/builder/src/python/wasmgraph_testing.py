"""Test helpers for wasmgraph Python operators, for plain `python3` (no pytest).

`wasmgraph build` writes this file next to the generated bindings in
`.wasmgraph/bindings/`. Importing it puts those bindings on `sys.path` and
replaces the host's imports (logger, metrics, state store), which only exist
inside the runtime, with in-memory fakes, so an operator module can be imported
and called directly:

    import wasmgraph_testing as t
    import my_map
    out = my_map.Map().process(t.message(b'{"temperature": {"value": 212}}'))
    assert t.payload_json(out)["temperature"]["value"] == 100
    assert t.logs  # [(level name, context, message), ...]

The records the helpers build are the generated dataclasses themselves
(`types.DataModel_Message`, `types.BufferOrBytes_Bytes`, ...), so an operator
sees exactly the shapes the runtime gives it.
"""

import importlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

_WORLDS = ["map_impl", "filter_impl", "branch_impl", "accumulate_impl", "delay_impl", "wit_world"]
WORLD_MODULE = next((w for w in _WORLDS if os.path.isdir(os.path.join(HERE, w))), None)
if WORLD_MODULE is None:
    raise ImportError(f"no generated bindings in {HERE}; run `wasmgraph build` first")

world = importlib.import_module(WORLD_MODULE)
types = importlib.import_module(WORLD_MODULE + ".imports.types")
hybrid_logical_clock = importlib.import_module(WORLD_MODULE + ".imports.hybrid_logical_clock")
logger = importlib.import_module(WORLD_MODULE + ".imports.logger")
metrics = importlib.import_module(WORLD_MODULE + ".imports.metrics")
state_store = importlib.import_module(WORLD_MODULE + ".imports.state_store")
state_store_types = importlib.import_module(WORLD_MODULE + ".imports.state_store_types")

# Let operator files written for either naming (`map_impl` or `wit_world`) import.
for _alias in _WORLDS:
    if _alias != WORLD_MODULE and _alias not in sys.modules:
        for _name, _module in list(sys.modules.items()):
            if _name == WORLD_MODULE or _name.startswith(WORLD_MODULE + "."):
                sys.modules[_alias + _name[len(WORLD_MODULE):]] = _module
try:
    import componentize_py_types  # noqa: F401  (0.17 and later ship it)
except ImportError:
    sys.modules["componentize_py_types"] = importlib.import_module(WORLD_MODULE + ".types")

Err = world.Err

# ---- fakes of the host's imports -------------------------------------------

logs = []
"""Every logger.log call: (level name, context, message)."""

counters = {}
"""metrics.add_to_counter totals by name."""

histograms = {}
"""metrics.record_to_histogram values by name."""

state = {}
"""The fake state store: bytes key -> bytes value."""


def _log(level, context, message):
    logs.append((getattr(level, "name", str(level)), context, message))


def _add_to_counter(name, value, labels=None):
    counters[name] = counters.get(name, 0) + value.value


def _record_to_histogram(name, value, labels=None):
    histograms.setdefault(name, []).append(value.value)


def _get(key, timeout=None):
    return state_store_types.StateStoreGetResponse(response=state.get(bytes(key)), version=None)


def _set(key, value, timeout=None, fencing_token=None, options=None):
    key = bytes(key)
    conditions = getattr(options, "conditions", None)
    if conditions == state_store_types.SetConditions.ONLY_IF_DOES_NOT_EXIST and key in state:
        return state_store_types.StateStoreSetResponse(response=False, version=None)
    state[key] = bytes(value)
    return state_store_types.StateStoreSetResponse(response=True, version=None)


def _del(key, fencing_token=None, timeout=None):
    existed = state.pop(bytes(key), None) is not None
    return state_store_types.StateStoreDelResponse(response=1 if existed else 0, version=None)


def _vdel(key, value, fencing_token=None, timeout=None):
    key = bytes(key)
    if state.get(key) == bytes(value):
        del state[key]
        return state_store_types.StateStoreDelResponse(response=1, version=None)
    return state_store_types.StateStoreDelResponse(response=0, version=None)


logger.log = _log
metrics.add_to_counter = _add_to_counter
metrics.record_to_histogram = _record_to_histogram
state_store.get = _get
state_store.set = _set
state_store.del_ = _del
state_store.vdel = _vdel


def reset():
    """Forget captured logs, metrics and state."""
    logs.clear()
    counters.clear()
    histograms.clear()
    state.clear()


# ---- building inputs --------------------------------------------------------


class HostBuffer(types.Buffer):
    """A `types.Buffer` holding bytes, as the host hands payloads over."""

    def __init__(self, data):
        self._data = bytes(data)

    def read(self):
        return self._data


def _bytes(value):
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (dict, list)):
        return json.dumps(value).encode("utf-8")
    return bytes(value)


def hlc(secs=1, nanos=0, counter=0, node_id="test"):
    """A `HybridLogicalClock`."""
    return hybrid_logical_clock.HybridLogicalClock(
        timestamp=hybrid_logical_clock.Timespec(secs=secs, nanos=nanos),
        counter=counter,
        node_id=node_id,
    )


def message(payload, topic="probe/1", user_properties=(), content_type=None, as_buffer=False,
            secs=1, nanos=0):
    """A `DataModel_Message` with `payload` (bytes, str, or a dict/list sent as
    JSON); `as_buffer=True` hands it over as a host buffer, like the runtime."""
    data = _bytes(payload)
    body = types.BufferOrBytes_Buffer(HostBuffer(data)) if as_buffer else types.BufferOrBytes_Bytes(data)
    return types.DataModel_Message(types.Message(
        timestamp=types.Timestamp(
            timestamp=hybrid_logical_clock.Timespec(secs=secs, nanos=nanos),
            counter=0,
            node_id=types.BufferOrString_String("test"),
        ),
        topic=types.BufferOrBytes_Bytes(topic.encode("utf-8")),
        content_type=None if content_type is None else types.BufferOrString_String(content_type),
        payload=body,
        properties=types.MessageProperties(user_properties=[
            (types.BufferOrString_String(k), types.BufferOrString_String(v))
            for k, v in user_properties
        ]),
        schema=None,
    ))


def empty():
    """The empty message an accumulate's first `staged` is."""
    return message(b"", topic="")


def configuration(**properties):
    """A `ModuleConfiguration` with these parameters (values become strings)."""
    return types.ModuleConfiguration(
        properties=[(k, str(v)) for k, v in properties.items()], module_schemas=[])


# ---- reading outputs --------------------------------------------------------


def read(value):
    """The bytes of a BufferOrBytes / BufferOrString (either variant)."""
    inner = value.value
    if isinstance(inner, str):
        return inner.encode("utf-8")
    if hasattr(inner, "read"):
        return inner.read()
    return bytes(inner)


def payload(data_model):
    """The payload bytes of a DataModel_Message."""
    return read(data_model.value.payload)


def payload_json(data_model):
    """The payload of a DataModel_Message, parsed as JSON."""
    return json.loads(payload(data_model))


def user_properties(data_model):
    """The user properties of a DataModel_Message as a dict of str."""
    return {read(k).decode(): read(v).decode() for k, v in data_model.value.properties.user_properties}


def run_tests(namespace):
    """Runs every `test_*` function in `namespace` (pass `globals()`), printing
    one line each and a closing `N passed, N failed`; exits 1 on a failure."""
    import traceback
    passed = failed = 0
    for name, fn in sorted(namespace.items()):
        if name.startswith("test_") and callable(fn):
            reset()
            try:
                fn()
            except Exception:  # report every failure, then go on
                failed += 1
                print(f"FAIL {name}")
                traceback.print_exc()
            else:
                passed += 1
                print(f"ok   {name}")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
