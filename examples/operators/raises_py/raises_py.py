"""Map that raises on some records: how a Python exception affects one record.

A record whose JSON payload has `"explode": true` makes `process` raise
`RuntimeError`. An uncaught exception traps the component; the runtime counts
and logs that record with the exception's text, throws the instance away and
creates a new one, and goes on with the next record.

Every other record is passed on with `"calls"` set to how many records this
instance has processed, which shows the re-creation: the count starts again at
1 after each failure, because a new instance starts from the module's state
as it was when the component was built.
"""

import json

from map_impl import exports
from map_impl.imports import types

CALLS = 0


def read_payload(payload):
    if isinstance(payload, types.BufferOrBytes_Buffer):
        return payload.value.read()
    return payload.value


class Map(exports.Map):
    def init(self, configuration) -> bool:
        return True

    def process(self, message: types.DataModel) -> types.DataModel:
        global CALLS
        CALLS += 1
        record = json.loads(read_payload(message.value.payload))
        if record.get("explode"):
            raise RuntimeError(f"record {record.get('n')} asked to explode")
        record["calls"] = CALLS
        message.value.payload = types.BufferOrBytes_Bytes(value=json.dumps(record).encode("utf-8"))
        return message
