//! Large APIs at a fixed context cost, independent of the catalogue's types: the search index behind
//! `search_tools` (`search`) and the client schema profiles (`profile`). `compile/` builds the
//! indexes into the catalogue's views; `mcp/` serves the discovery tools.

pub mod profile;
pub mod search;
