//! A progress bar for runs over files.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use wasmgraph_engine::Stats;

/// A bar over `total` messages read, updated from `stats` until finished.
pub fn bar(stats: Arc<Stats>, total: u64) -> (indicatif::ProgressBar, std::thread::JoinHandle<()>) {
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} files read, {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let watched = bar.clone();
    let handle = std::thread::spawn(move || {
        while !watched.is_finished() {
            watched.set_position(stats.read.load(Ordering::Relaxed));
            watched.set_message(format!("{} written", stats.written.load(Ordering::Relaxed)));
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    (bar, handle)
}
