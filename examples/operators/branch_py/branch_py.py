"""Branch: hot temperature readings to arm "True", everything else to "False".

A reading is hot at or above `hot_threshold` degrees Celsius (init parameter,
default 30); Fahrenheit readings (and readings without a unit, as sensors
send them) are converted first. Other measurements and
non-JSON payloads go to "False".
"""

import json

from branch_impl import Err, exports, imports
from branch_impl.imports import types

CONTEXT = "branch_py"
HOT_THRESHOLD = 30.0  # module-level: attributes on self do not outlive a call


def read_payload(payload):
    if isinstance(payload, types.BufferOrBytes_Buffer):
        return payload.value.read()
    return payload.value


def celsius(reading):
    """The reading's temperature in Celsius, or None."""
    temperature = reading.get("temperature") if isinstance(reading, dict) else None
    if not isinstance(temperature, dict) or not isinstance(temperature.get("value"), (int, float)):
        return None
    value = float(temperature["value"])
    if str(temperature.get("unit", "F")).upper() == "F":
        value = (value - 32) * 5.0 / 9.0
    return value


class Branch(exports.Branch):
    def init(self, configuration) -> bool:
        global HOT_THRESHOLD
        for key, value in configuration.properties:
            if key == "hot_threshold":
                try:
                    HOT_THRESHOLD = float(value)
                except ValueError:
                    imports.logger.log(imports.logger.Level.ERROR, CONTEXT,
                                       f"hot_threshold must be a number, got {value!r}")
                    return False
        return True

    def process(self, timestamp, message: types.DataModel) -> bool:
        if not isinstance(message, types.DataModel_Message):
            raise Err(types.Error(message="expected a message"))
        try:
            reading = json.loads(read_payload(message.value.payload))
        except ValueError:
            return False
        value = celsius(reading)
        hot = value is not None and value >= HOT_THRESHOLD
        imports.logger.log(imports.logger.Level.DEBUG, CONTEXT,
                           f"{value} C at {timestamp.timestamp.secs}s: {'hot' if hot else 'not hot'}")
        return hot
