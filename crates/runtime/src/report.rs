//! The run summary: per operation in/out/errors, and what modules measured.

use wasmgraph_engine::Stats;
use wasmgraph_host::MetricsRegistry;

/// The per-operation summary table.
pub fn summary(stats: &Stats) -> String {
    let width = stats.nodes.iter().map(|(n, _)| n.len()).max().unwrap_or(9).max(9);
    let mut out = format!("{:<width$} {:>10} {:>10} {:>8}\n", "operation", "in", "out", "errors");
    for (name, s) in &stats.nodes {
        let (i, o, e) = s.get();
        out.push_str(&format!("{name:<width$} {i:>10} {o:>10} {e:>8}\n"));
    }
    let future = stats.future_times.load(std::sync::atomic::Ordering::Relaxed);
    if future > 0 {
        out.push_str(&format!(
            "{future} message(s) had a time too far ahead of the host clock and got the host's time instead\n"
        ));
    }
    out
}

/// The metrics modules recorded, one line per series (nothing when none).
pub fn metrics_summary(metrics: &MetricsRegistry) -> String {
    let snap = metrics.snapshot();
    let labels = |l: &[(String, String)]| {
        if l.is_empty() {
            String::new()
        } else {
            format!("{{{}}}", l.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","))
        }
    };
    let mut out = String::new();
    for c in &snap.counters {
        out.push_str(&format!("counter   {}{} = {}\n", c.name, labels(&c.labels), c.value));
    }
    for h in &snap.histograms {
        let s = &h.summary;
        let mean = if s.count > 0 { s.sum / s.count as f64 } else { 0.0 };
        out.push_str(&format!(
            "histogram {}{}: count {} min {} max {} mean {mean:.3}\n",
            h.name,
            labels(&h.labels),
            s.count,
            s.min,
            s.max
        ));
    }
    if !out.is_empty() {
        out.insert_str(0, "module metrics:\n");
    }
    out
}
