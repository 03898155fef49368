"""Filter: keeps temperature readings at or above a threshold.

The threshold (degrees Celsius) comes from the init parameter
`temperature_threshold` (default 20). Fahrenheit readings are compared after
conversion (a reading without a unit is Fahrenheit, as
sensors send them; the map adds `"unit": "C"`); records without a temperature
pass.

componentize-py creates a fresh object of the class for each call, so
attributes set on `self` in `init` are gone by the time `process` runs: the
threshold lives in a module-level variable instead.
"""

import json

from filter_impl import Err, exports, imports
from filter_impl.imports import types

CONTEXT = "filter_py"
THRESHOLD = 20.0


def read_payload(payload):
    if isinstance(payload, types.BufferOrBytes_Buffer):
        return payload.value.read()
    return payload.value


class Filter(exports.Filter):
    def init(self, configuration) -> bool:
        global THRESHOLD
        for key, value in configuration.properties:
            if key == "temperature_threshold":
                try:
                    THRESHOLD = float(value)
                except ValueError:
                    imports.logger.log(imports.logger.Level.ERROR, CONTEXT,
                                       f"temperature_threshold must be a number, got {value!r}")
                    return False
        imports.logger.log(imports.logger.Level.INFO, CONTEXT, f"keeping readings >= {THRESHOLD} C")
        return True

    def process(self, message: types.DataModel) -> bool:
        if not isinstance(message, types.DataModel_Message):
            raise Err(types.Error(message="expected a message"))
        try:
            reading = json.loads(read_payload(message.value.payload))
        except ValueError:
            return True
        temperature = reading.get("temperature") if isinstance(reading, dict) else None
        if not isinstance(temperature, dict) or "value" not in temperature:
            return True
        value = float(temperature["value"])
        if str(temperature.get("unit", "F")).upper() == "F":
            value = (value - 32) * 5.0 / 9.0
        return value >= THRESHOLD
