"""Map: Fahrenheit to Celsius.

`{"temperature": {"value": F}}` (with `"unit": "F"` or no unit) becomes
`{"temperature": {"value": C, "unit": "C"}}`; every other record passes
unchanged. Written the way AIO's documentation writes Python operators
(`from map_impl import exports, imports`), so the file builds for AIO too.
"""

import json

from map_impl import Err, exports, imports
from map_impl.imports import types

CONTEXT = "map_py"


def read_payload(payload):
    """The payload's bytes, whether the host lent a buffer or sent bytes."""
    if isinstance(payload, types.BufferOrBytes_Buffer):
        return payload.value.read()
    if isinstance(payload, types.BufferOrBytes_Bytes):
        return payload.value
    raise Err(types.Error(message=f"unexpected payload type {type(payload).__name__}"))


def to_celsius(fahrenheit):
    celsius = round((fahrenheit - 32) * 5.0 / 9.0, 2)
    return int(celsius) if celsius == int(celsius) else celsius


class Map(exports.Map):
    def init(self, configuration) -> bool:
        imports.logger.log(imports.logger.Level.INFO, CONTEXT, "converting Fahrenheit readings to Celsius")
        return True

    def process(self, message: types.DataModel) -> types.DataModel:
        if not isinstance(message, types.DataModel_Message):
            raise Err(types.Error(message="expected a message"))
        try:
            reading = json.loads(read_payload(message.value.payload))
        except ValueError:
            return message  # not JSON: not a reading of ours
        temperature = reading.get("temperature") if isinstance(reading, dict) else None
        if not isinstance(temperature, dict) or temperature.get("unit", "F") != "F":
            return message
        value = temperature.get("value")
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise Err(types.Error(message=f"temperature.value is not a number: {value!r}"))
        temperature["value"] = to_celsius(value)
        temperature["unit"] = "C"
        message.value.payload = types.BufferOrBytes_Bytes(value=json.dumps(reading).encode("utf-8"))
        return message
