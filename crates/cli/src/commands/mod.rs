//! One module per subcommand.

pub mod build;
pub mod new;
pub mod validate;
pub mod publish;
pub mod run;
pub mod test;
