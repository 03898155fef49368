"""The peer of wasmgraph's F->C map + filter graph, in Bytewax (bench-peer).

The same work as `source -> module-temperature/map -> module-temperature/filter
-> sink` in bench-graph: every record is the JSON reading of issue 6 as bytes;
the map parses it, converts Fahrenheit to Celsius and serialises it again; the
filter parses the result and keeps readings at or above the threshold; a sink
counts what arrives. One worker (Bytewax's `run_main`), records from memory, as
wasmgraph's memory source gives them.

Prints one line `RATE <records/s> <records out> <CPU us per record>`, timed
around the flow's run only (interpreter start and imports excluded, as the
Rust side excludes process start and module compilation); the CPU time is the
process's, all threads, as the Rust side counts it.
"""

import json
import sys
import time

from bytewax import operators as op
from bytewax.dataflow import Dataflow
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from bytewax.testing import TestingSource, run_main


class Counted(StatelessSinkPartition):
    def __init__(self, counter):
        self.counter = counter

    def write_batch(self, items):
        self.counter[0] += len(items)


class CountingSink(DynamicSink):
    def __init__(self):
        self.counter = [0]

    def build(self, step_id, worker_index, worker_count):
        return Counted(self.counter)


def f2c(payload):
    reading = json.loads(payload)
    temperature = reading.get("temperature")
    if isinstance(temperature, dict) and temperature.get("unit", "F") == "F":
        celsius = round((temperature["value"] - 32) * 5.0 / 9.0, 2)
        temperature["value"] = int(celsius) if celsius == int(celsius) else celsius
        temperature["unit"] = "C"
        return json.dumps(reading).encode("utf-8")
    return payload


def keep(payload, threshold):
    temperature = json.loads(payload).get("temperature")
    return not isinstance(temperature, dict) or temperature.get("value", 0) >= threshold


def main():
    n, payload, threshold = int(sys.argv[1]), sys.argv[2].encode("utf-8"), float(sys.argv[3])
    items = [payload] * n
    sink = CountingSink()
    flow = Dataflow("f2c")
    stream = op.input("source", flow, TestingSource(items, batch_size=1000))
    stream = op.map("map", stream, f2c)
    stream = op.filter("filter", stream, lambda p: keep(p, threshold))
    op.output("sink", stream, sink)
    started, cpu = time.perf_counter(), time.process_time()
    run_main(flow)
    secs, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"RATE {n / secs:.1f} {sink.counter[0]} {cpu * 1e6 / n:.3f}")


if __name__ == "__main__":
    main()
