//! Checks of inbound `auth` and each upstream's `credentials`, with the same functions startup uses,
//! so that `check` finds every problem the server would refuse or fail closed on. Values are never shown.

use super::locate;
use crate::diag::{Diagnostic, Diagnostics};
use crate::load::LoadedConfig;
use crate::spec::pointer_segment;

pub fn check(loaded: &LoadedConfig, diagnostics: &mut Diagnostics) {
    let source = loaded.mapping_source.as_ref();
    if let Some(settings) = &loaded.mapping.auth {
        for (pointer, problem) in crate::auth::check_settings(settings) {
            diagnostics.push(
                Diagnostic::error("mapping/invalid-auth", problem)
                    .at(locate(source, &pointer))
                    .with_help("see specs/auth.md"),
            );
        }
    }
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
