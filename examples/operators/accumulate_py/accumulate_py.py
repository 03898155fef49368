"""Accumulate: statistics of the temperature readings of one time (window).

Emits `{"temperature": {"count", "min", "max", "average", "unit": "C"},
"others": N}`: count, minimum, maximum and average of the readings in Celsius
(Fahrenheit ones, and ones without a unit, are converted), and how many other records there were. The
host calls `process(staged, batch)` one or more times per time, starting from
an empty message; the running statistics travel in the staged payload, so
nothing is kept in the module between calls.
"""

import json

from accumulate_impl import Err, exports, imports
from accumulate_impl.imports import types

CONTEXT = "accumulate_py"


def read(payload):
    if isinstance(payload, types.BufferOrBytes_Buffer):
        return payload.value.read()
    return payload.value


def payload_of(data):
    if isinstance(data, types.DataModel_Message):
        return read(data.value.payload)
    if isinstance(data, types.DataModel_BufferOrBytes):
        return read(data.value)
    raise Err(types.Error(message="expected a message"))


def celsius(reading):
    temperature = reading.get("temperature") if isinstance(reading, dict) else None
    if not isinstance(temperature, dict) or not isinstance(temperature.get("value"), (int, float)):
        return None
    value = float(temperature["value"])
    if str(temperature.get("unit", "F")).upper() == "F":
        value = (value - 32) * 5.0 / 9.0
    return value


class Accumulate(exports.Accumulate):
    def init(self, configuration) -> bool:
        return True

    def process(self, staged: types.DataModel, message) -> types.DataModel:
        previous = payload_of(staged)
        summary = json.loads(previous) if previous else {"others": 0}
        stats = summary.get("temperature")
        count = stats["count"] if stats else 0
        total = stats["average"] * count if stats else 0.0
        low = stats["min"] if stats else None
        high = stats["max"] if stats else None
        for data in message:
            try:
                value = celsius(json.loads(payload_of(data)))
            except ValueError:
                value = None
            if value is None:
                summary["others"] += 1
                continue
            count += 1
            total += value
            low = value if low is None else min(low, value)
            high = value if high is None else max(high, value)
        if count:
            summary["temperature"] = {
                "count": count, "min": low, "max": high, "average": total / count, "unit": "C",
            }
        body = types.BufferOrBytes_Bytes(value=json.dumps(summary).encode("utf-8"))
        # Keep the envelope (topic, time, properties) of the staged message once
        # there is one, else of the newest record.
        base = staged if previous or not message else message[-1]
        if isinstance(base, types.DataModel_Message):
            base.value.payload = body
            return base
        return types.DataModel_BufferOrBytes(value=body)
