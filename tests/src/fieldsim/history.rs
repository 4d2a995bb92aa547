//! Years of records written straight into a server database, and the queue queries timed over them.

use std::process::ExitCode;

/// `fieldsim history`'s options.
#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// Issues to write.
    #[arg(long, default_value_t = 100_000)]
    pub issues: u64,
}

/// `fieldsim history`.
pub fn main(_args: &HistoryArgs) -> ExitCode {
    ExitCode::SUCCESS
}
