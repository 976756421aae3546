//! Checks of each upstream's `credentials`, with the function the compiler uses, so that `check`
//! finds every problem the server would refuse. Values are never shown. Inbound `auth` is checked
//! where it is compiled (`compile/auth.rs`).

use super::locate;
use crate::diag::{Diagnostic, Diagnostics};
use crate::load::LoadedConfig;
use crate::spec::pointer_segment;

pub fn check(loaded: &LoadedConfig, diagnostics: &mut Diagnostics) {
    let source = loaded.mapping_source.as_ref();
    for (name, upstream) in &loaded.mapping.upstreams {
        let Some(spec) = loaded.specs.get(name) else { continue };
        for (scheme, settings) in &upstream.credentials {
            if let Err(problem) = crate::compile::credentials::resolve(scheme, settings, spec) {
                let pointer = format!("/upstreams/{}/credentials/{}", pointer_segment(name), pointer_segment(scheme));
                diagnostics.push(
                    Diagnostic::error("mapping/invalid-credentials", format!("upstream '{name}': {problem}"))
                        .at(locate(source, &pointer)),
                );
            }
        }
    }
}
