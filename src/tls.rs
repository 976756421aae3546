//! The one place HTTP clients get their TLS: rustls with the `ring` crypto provider, installed as the
//! process default before any client is built.
//!
//! reqwest's default rustls provider is aws-lc-rs, whose C build (`aws-lc-sys`) is the longest single
//! step of a first build; ring compiles in seconds and implements every cipher suite rustls offers by
//! default. Every `reqwest::Client` in `src/` starts from [`client_builder`]; clients built elsewhere
//! (the OTLP exporter) rely on [`install_crypto_provider`] having run in `telemetry::init`.

/// Makes ring the process-wide rustls provider (once; a provider installed earlier is kept).
pub fn install_crypto_provider() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        // `Err` means another provider is already the default, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A reqwest client builder whose TLS uses the provider installed by [`install_crypto_provider`].
pub fn client_builder() -> reqwest::ClientBuilder {
    install_crypto_provider();
    reqwest::Client::builder()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_client_builds_with_the_installed_provider() {
        let client = super::client_builder().build();
        assert!(client.is_ok(), "{client:?}");
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    }
}
