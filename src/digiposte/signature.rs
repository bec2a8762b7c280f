//! The receipts' signature: HMAC-SHA256 over `timestamp + "." + body`, hex-encoded, in
//! `X-Digiposte-Signature: sha256=<hex>` with the Unix time in `X-Digiposte-Timestamp`.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const TIMESTAMP_HEADER: &str = "X-Digiposte-Timestamp";
pub const SIGNATURE_HEADER: &str = "X-Digiposte-Signature";

fn mac(secret: &[u8], timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header value for this timestamp and body (tests and benches sign receipts; the
/// simulator signs with its own code, as Digiposte would).
#[cfg(any(test, feature = "testkit"))]
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
    )
}

/// Checks a header value in constant time.
pub fn verify(secret: &[u8], timestamp: &str, body: &[u8], header: &str) -> bool {
    let Some(hex_sig) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Ok(given) = hex::decode(hex_sig) else {
        return false;
    };
    mac(secret, timestamp, body).verify_slice(&given).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies() {
        let s = sign(b"k", "1700000000", b"{}");
        assert!(verify(b"k", "1700000000", b"{}", &s));
        assert!(!verify(b"k", "1700000001", b"{}", &s));
        assert!(!verify(b"other", "1700000000", b"{}", &s));
        assert!(!verify(b"k", "1700000000", b"{ }", &s));
        assert!(!verify(b"k", "1700000000", b"{}", "sha256=zz"));
        assert!(!verify(b"k", "1700000000", b"{}", "md5=00"));
    }
}
