//! Why a command failed, typed, so that the process exit code follows the error: 78 (`EX_CONFIG`)
//! for anything the user fixes in the configuration, flags or arguments; 1 for everything else
//! (an address in use, a closed stdout, a server that stopped with an error, a failed tool call).

use std::process::ExitCode;

/// `EX_CONFIG` from sysexits.h: the configuration is wrong.
pub const EXIT_CONFIG: u8 = 78;
/// Any other failure.
pub const EXIT_FAILURE: u8 = 1;

#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// No configuration was named and there is no `./api2mcp.yaml`.
    #[error(transparent)]
    NoConfiguration(#[from] crate::pipeline::NoConfiguration),
    /// The configuration has errors; their diagnostics are already printed.
    #[error("the configuration has errors; {0}")]
    Diagnostics(&'static str),
    /// `check` found errors (or warnings with `--deny-warnings`) and printed its report.
    #[error("the configuration check failed")]
    CheckFailed,
    /// The compiled catalogue cannot be served as configured (a schema or template the runtime
    /// cannot build, an upstream client that cannot be made from its settings).
    #[error("{0}")]
    Catalogue(String),
    /// A command-line value that is not usable (`--args` that is not a JSON object).
    #[error("{0}")]
    Argument(String),
    /// Tools would be served to the network without inbound auth.
    #[error("{0}")]
    Exposure(String),
    /// An address could not be listened on: a malformed address is a configuration error, an address
    /// in use or not permitted is not.
    #[error("{}", crate::app::listen_error(.option, .listen, .source))]
    Listen { option: &'static str, listen: String, source: std::io::Error },
    /// The MCP server could not be built from a catalogue that compiled.
    #[error("{0}")]
    Server(String),
    /// Serving stopped with an error (stdio or HTTP).
    #[error("{0}")]
    Serve(String),
    /// Writing the command's output failed.
    #[error("cannot write {what}: {source}")]
    Output { what: &'static str, source: std::io::Error },
    /// The health check found the server unhealthy.
    #[error("unhealthy: {0}")]
    Unhealthy(String),
    /// `call`: the tool answered with `isError` (the result is already printed).
    #[error("the tool call failed")]
    ToolError,
}

impl Failure {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::NoConfiguration(_)
            | Failure::Diagnostics(_)
            | Failure::CheckFailed
            | Failure::Catalogue(_)
            | Failure::Argument(_)
            | Failure::Exposure(_) => EXIT_CONFIG,
            Failure::Listen { source, .. } if source.kind() == std::io::ErrorKind::InvalidInput => EXIT_CONFIG,
            Failure::Listen { .. }
            | Failure::Server(_)
            | Failure::Serve(_)
            | Failure::Output { .. }
            | Failure::Unhealthy(_)
            | Failure::ToolError => EXIT_FAILURE,
        }
    }

    /// Whether the command already told the user why (its report or result is printed): then no
    /// `error:` line is added.
    fn already_reported(&self) -> bool {
        matches!(self, Failure::CheckFailed | Failure::ToolError)
    }

    /// Prints the failure (unless already reported) and returns the exit code.
    pub fn report(&self) -> ExitCode {
        match self {
            Failure::Unhealthy(_) => eprintln!("{self}"),
            _ if self.already_reported() => {}
            _ => eprintln!("error: {self}"),
        }
        ExitCode::from(self.exit_code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_mistakes_exit_78_and_everything_else_1() {
        let listen = |kind| Failure::Listen {
            option: "--listen",
            listen: "x".into(),
            source: std::io::Error::new(kind, "test"),
        };
        assert_eq!(listen(std::io::ErrorKind::InvalidInput).exit_code(), EXIT_CONFIG);
        assert_eq!(listen(std::io::ErrorKind::AddrInUse).exit_code(), EXIT_FAILURE);
        assert_eq!(listen(std::io::ErrorKind::PermissionDenied).exit_code(), EXIT_FAILURE);
        assert_eq!(Failure::Diagnostics("not serving").exit_code(), EXIT_CONFIG);
        assert_eq!(Failure::NoConfiguration(crate::pipeline::NoConfiguration).exit_code(), EXIT_CONFIG);
        assert_eq!(Failure::Serve("closed".into()).exit_code(), EXIT_FAILURE);
    }
}
