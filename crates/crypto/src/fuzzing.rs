//! Entry point for the keystore fuzz target (`fuzz/`).

/// Reads `data` as a keystore file: its address, and its key with a fixed password. Only
/// keystores whose key derivation is cheap are decrypted (the bounds on the expensive ones
/// are checked before any work, and a fuzzer learns nothing from waiting a second on one
/// that is within them).
pub fn keystore(data: &[u8]) {
    let Ok(json) = std::str::from_utf8(data) else { return };
    let _ = crate::keystore::address(json);
    let cheap = serde_json::from_str::<serde_json::Value>(json).is_ok_and(|v| {
        let kdf = &v["crypto"]["kdfparams"];
        let n = |name: &str| kdf[name].as_u64().unwrap_or(0);
        n("n").saturating_mul(n("r")).saturating_mul(n("p")) <= 1 << 10 && n("c") <= 1 << 10
    });
    if cheap {
        let _ = crate::keystore::decrypt(json, "password");
    }
}
