//! The one integration test binary: every module below runs real parts (files, HTTP servers on
//! 127.0.0.1:0, the built `api2mcp` binary).

mod support;

mod architecture;
mod auth;
mod cli;
mod compile_fixtures;
mod corpus;
mod discovery;
mod docs;
mod fast_path;
mod faults;
mod fidelity;
mod first_hour;
mod hardening;
mod hostile_input;
mod mapping_schema;
mod multi_instance;
mod ops;
mod properties;
mod remote_specs;
mod resilience;
mod schema_fidelity;
mod serve;
mod shaping;
mod spec_release;
mod stream_shaping;
mod telemetry;
