//! The HTTP client for outbound calls (Digiposte, ScoDoc, OpenID provider, S3): one place that sets up TLS for reqwest.

use std::sync::Once;

/// Installs rustls' ring provider for the process (reqwest is built without a default one,
/// so nothing pulls a second crypto library). Safe to call many times.
pub fn install_tls_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A reqwest client builder with TLS ready and a user agent naming passerelle.
pub fn client_builder() -> reqwest::ClientBuilder {
    install_tls_provider();
    reqwest::Client::builder().user_agent(concat!("passerelle/", env!("CARGO_PKG_VERSION")))
}
