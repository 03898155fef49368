//! One module per subcommand.

pub mod build;
pub mod validate;
pub mod run;
pub mod test;
