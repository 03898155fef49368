//! One module per subcommand.

pub mod build;
pub mod cluster;
pub mod graph_watch;
pub mod limits;
pub mod new;
pub mod publish;
pub mod pull;
pub mod push;
pub mod registry;
pub mod run;
pub mod telemetry;
pub mod test;
pub mod validate;
