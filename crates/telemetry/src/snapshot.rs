//! What one collection of the runtime's figures holds: plain numbers, read
//! from the live counters by whoever implements [`crate::Collect`], so this
//! crate needs none of the engine's or the host's types.

/// Every figure of one running graph at one moment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// The graph's (pipeline's) name: the `graph` label of every series.
    pub graph: String,
    /// Per operation (every node of the graph, sources and sinks included).
    pub operations: Vec<OperationPoint>,
    /// Per source.
    pub sources: Vec<SourcePoint>,
    /// Per sink.
    pub sinks: Vec<SinkPoint>,
    /// Counters modules keep through the `metrics` host API.
    pub module_counters: Vec<ModuleCounter>,
    /// Histograms modules keep through the `metrics` host API.
    pub module_histograms: Vec<ModuleHistogram>,
}

/// The counters of one operation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OperationPoint {
    /// The operation's name in the graph.
    pub name: String,
    /// Records that reached it.
    pub records_in: u64,
    /// Records it passed on.
    pub records_out: u64,
    /// Failed calls by failure kind (`error`, `trap`, `timeout`, ...); every
    /// kind is listed, zero or not, so that rates exist from the start.
    pub errors: Vec<(String, u64)>,
    /// How long its module calls took, when calls are timed.
    pub calls: Option<HistogramPoint>,
}

/// Observations grouped in buckets.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HistogramPoint {
    /// `(upper bound, observations in this bucket alone)`, in increasing
    /// bounds; the last bound is `f64::INFINITY`.
    pub buckets: Vec<(f64, u64)>,
    /// Sum of the observations.
    pub sum: f64,
    /// Number of observations.
    pub count: u64,
}

/// The counters of one source.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SourcePoint {
    /// The source as the user knows it (`mqtt host:1883 topics a/#`).
    pub name: String,
    /// Messages it delivered to the graph.
    pub received: u64,
    /// Messages acknowledged back to it (written by every sink they reached,
    /// or dropped by the graph).
    pub acknowledged: u64,
    /// Messages delivered with an acknowledgement still owed: received with an
    /// acknowledgement token and not yet acknowledged. Messages that need no
    /// acknowledgement (MQTT QoS 0, files) are never in flight.
    pub in_flight: u64,
    /// Per partition, where the protocol tells (Kafka consumer lag); empty
    /// otherwise.
    pub lag: Vec<LagPoint>,
}

/// How far one partition of a source is behind its broker.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LagPoint {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// Messages the broker holds past the position the source commits next
    /// (high watermark minus that offset), as Kafka's tools count a consumer
    /// group's lag.
    pub messages: u64,
}

/// The counters of one sink.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SinkPoint {
    /// The sink as the user knows it (`mqtt host:1883 topic out`).
    pub name: String,
    /// Records it wrote.
    pub published: u64,
    /// Writes and flushes that failed.
    pub failed: u64,
}

/// One series of a module's counter.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModuleCounter {
    /// The name the module gave it.
    pub name: String,
    /// The module's labels.
    pub labels: Vec<(String, String)>,
    /// Its total.
    pub value: u64,
}

/// One series of a module's histogram. The host keeps count and sum (and
/// extremes) per series, not buckets, so these export without buckets.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModuleHistogram {
    /// The name the module gave it.
    pub name: String,
    /// The module's labels.
    pub labels: Vec<(String, String)>,
    /// Sum of the observations.
    pub sum: f64,
    /// Number of observations.
    pub count: u64,
}
