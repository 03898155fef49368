//! Ctrl-C and SIGTERM: the first stops the source cleanly, a second quits.

use anyhow::{Context, Result};
use wasmgraph_connectors::StopHandle;

/// Stop `stop` on Ctrl-C or SIGTERM; a second signal exits at once (nothing is
/// lost: unacknowledged messages come again on the next start).
pub fn stop_on_signals(stop: StopHandle) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().context("signal handler")?;
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        rt.block_on(async move {
            let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!("cannot watch SIGTERM: {e}");
                    let _ = tokio::signal::ctrl_c().await;
                    stop.stop();
                    return;
                }
            };
            for round in 0..2 {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
                if round == 0 {
                    eprintln!("wasmgraph: stopping: finishing and acknowledging the messages in flight (again to quit at once)");
                    stop.stop();
                } else {
                    std::process::exit(130);
                }
            }
        });
    })?;
    Ok(())
}
