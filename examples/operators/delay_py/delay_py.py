"""Delay: moves each record to the end of its time window.

Windows are `window_seconds` long (init parameter, default 10) and start at
the epoch: a record at 12.5 s moves to 20 s. Downstream, an accumulate then
sees all records of one window at one time and emits one summary per window.
"""

from delay_impl import Err, exports, imports
from delay_impl.imports import hybrid_logical_clock, types

CONTEXT = "delay_py"
WINDOW_SECONDS = 10  # module-level: attributes on self do not outlive a call


class Delay(exports.Delay):
    def init(self, configuration) -> bool:
        global WINDOW_SECONDS
        for key, value in configuration.properties:
            if key == "window_seconds":
                try:
                    WINDOW_SECONDS = int(value)
                except ValueError:
                    WINDOW_SECONDS = 0
                if WINDOW_SECONDS <= 0:
                    imports.logger.log(imports.logger.Level.ERROR, CONTEXT,
                                       f"window_seconds must be a positive whole number, got {value!r}")
                    return False
        imports.logger.log(imports.logger.Level.INFO, CONTEXT, f"{WINDOW_SECONDS} s windows")
        return True

    def process(self, data: types.DataModel, timestamp) -> "hybrid_logical_clock.HybridLogicalClock":
        if timestamp.timestamp.secs > 2**63:
            raise Err(types.Error(message="timestamp out of range"))
        window_end = (timestamp.timestamp.secs // WINDOW_SECONDS + 1) * WINDOW_SECONDS
        return hybrid_logical_clock.HybridLogicalClock(
            timestamp=hybrid_logical_clock.Timespec(secs=window_end, nanos=0),
            counter=0,
            node_id=timestamp.node_id,
        )
