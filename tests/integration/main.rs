//! The one integration test binary: every module below runs real parts (files, HTTP servers on
//! 127.0.0.1:0, the built `api2mcp` binary).

mod support;

mod auth;
mod cli;
mod compile_fixtures;
mod corpus;
mod docs;
mod faults;
mod first_hour;
mod mapping_schema;
mod ops;
mod remote_specs;
mod serve;
mod shaping;
mod telemetry;
