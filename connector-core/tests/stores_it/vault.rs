use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use connector_core::clock::{Clock, ManualClock};
use connector_core::state::ConnectionName;
use connector_core::state::conformance::START;
use connector_core::vault::{
    FileVault, MASTER_KEY_ENV, MasterKey, MemorySecretStore, SecretStore, VaultError, keygen,
};
use secrecy::{ExposeSecret, SecretString};

fn eu() -> ConnectionName {
    ConnectionName::new("eu").expect("name")
}

fn key_copy(key: &MasterKey) -> MasterKey {
    MasterKey::from_text(key.to_base64().expose_secret(), "test").expect("own encoding parses")
}

async fn exercise(store: &dyn SecretStore, clock: &ManualClock) {
    assert!(
        store
            .get(&eu(), "syspro_password")
            .await
            .expect("get")
            .is_none()
    );
    store
        .set(&eu(), "syspro_password", SecretString::from("p@ss word"))
        .await
        .expect("set");
    clock.advance(Duration::from_secs(5));
    store
        .set(&eu(), "commerce_token", SecretString::from("tok-1"))
        .await
        .expect("set");
    let got = store
        .get(&eu(), "syspro_password")
        .await
        .expect("get")
        .expect("present");
    assert_eq!(got.expose_secret(), "p@ss word");
    let listed = store.list().await.expect("list");
    let names: Vec<(&str, time::OffsetDateTime)> =
        listed.iter().map(|i| (i.name.as_str(), i.set_at)).collect();
    assert_eq!(
        names,
        vec![
            ("commerce_token", START + time::Duration::seconds(5)),
            ("syspro_password", START)
        ]
    );
    assert!(
        !format!("{listed:?}").contains("p@ss"),
        "list must not carry values"
    );

    store
        .set(&eu(), "commerce_token", SecretString::from("tok-2"))
        .await
        .expect("replace");
    assert_eq!(
        store
            .require(&eu(), "commerce_token")
            .await
            .expect("require")
            .expose_secret(),
        "tok-2"
    );
    assert!(store.remove(&eu(), "commerce_token").await.expect("remove"));
    assert!(
        !store
            .remove(&eu(), "commerce_token")
            .await
            .expect("remove again")
    );
    let err = store
        .require(&eu(), "commerce_token")
        .await
        .expect_err("missing");
    assert!(matches!(err, VaultError::Missing { .. }), "{err}");
    assert!(
        err.to_string().contains("commerce_token") && err.to_string().contains("eu"),
        "{err}"
    );
    let err = store
        .set(&eu(), "bad name", SecretString::from("x"))
        .await
        .expect_err("invalid name");
    assert!(matches!(err, VaultError::InvalidName { .. }), "{err}");
    assert!(
        !err.to_string().contains("bad name"),
        "names are not echoed: {err}"
    );

    // Every name a configuration may refer to can be stored.
    let configured = "acme-us/commerce/consumer_key";
    connector_core::config::SecretName::new(configured).expect("a valid configuration name");
    store
        .set(&eu(), configured, SecretString::from("ck"))
        .await
        .expect("configuration-style name");
    assert_eq!(
        store
            .require(&eu(), configured)
            .await
            .expect("require")
            .expose_secret(),
        "ck"
    );
    assert!(store.remove(&eu(), configured).await.expect("remove"));
}

#[tokio::test]
async fn memory_store_behaves_like_a_secret_store() {
    let clock = ManualClock::new(START);
    let store = MemorySecretStore::new(Arc::new(clock.clone()));
    exercise(&store, &clock).await;
}

#[tokio::test]
async fn file_vault_round_trips_and_hides_values() {
    let dir = crate::temp_dir("vault");
    let path = dir.join("vault.json");
    let clock = ManualClock::new(START);
    let key = MasterKey::generate().expect("key");
    let vault = FileVault::new(&path, key_copy(&key), Arc::new(clock.clone()));
    exercise(&vault, &clock).await;

    let raw = std::fs::read_to_string(&path).expect("read vault");
    assert!(
        !raw.contains("p@ss word") && !raw.contains("syspro_password"),
        "vault is plain text"
    );
    assert!(!format!("{vault:?}").contains(key.to_base64().expose_secret()));
    assert_eq!(format!("{key:?}"), "MasterKey([redacted])");

    let reopened = FileVault::new(&path, key, Arc::new(clock.clone()) as Arc<dyn Clock>);
    assert_eq!(reopened.verify().await.expect("verify"), 1);
    assert_eq!(
        reopened
            .get(&eu(), "syspro_password")
            .await
            .expect("get")
            .expect("present")
            .expose_secret(),
        "p@ss word"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .expect("list dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(
        leftovers,
        vec![std::ffi::OsString::from("vault.json")],
        "no temporary files left"
    );
}

#[tokio::test]
async fn every_write_uses_a_fresh_nonce() {
    let path = crate::temp_dir("vault-nonce").join("vault.json");
    let vault = FileVault::new(
        &path,
        MasterKey::generate().expect("key"),
        Arc::new(ManualClock::new(START)),
    );
    vault
        .set(&eu(), "a", SecretString::from("same"))
        .await
        .expect("set");
    let first: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    vault
        .set(&eu(), "a", SecretString::from("same"))
        .await
        .expect("set");
    let second: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    assert_ne!(first["nonce"], second["nonce"]);
    assert_ne!(first["ciphertext"], second["ciphertext"]);
}

#[tokio::test]
async fn wrong_key_is_a_clear_error() {
    let path = crate::temp_dir("vault-wrong").join("vault.json");
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(START));
    let vault = FileVault::new(
        &path,
        MasterKey::generate().expect("key"),
        Arc::clone(&clock),
    );
    vault
        .set(&eu(), "a", SecretString::from("secret-a"))
        .await
        .expect("set");
    let other = FileVault::new(&path, MasterKey::generate().expect("key"), clock);
    let err = other.get(&eu(), "a").await.expect_err("wrong key");
    assert!(matches!(err, VaultError::WrongKey { .. }), "{err}");
    assert!(err.to_string().contains("different master key"), "{err}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    let err = other
        .set(&eu(), "b", SecretString::from("x"))
        .await
        .expect_err("a wrong key must not overwrite the vault");
    assert!(matches!(err, VaultError::WrongKey { .. }), "{err}");
}

#[tokio::test]
async fn tampering_is_detected_never_decrypted() {
    let path = crate::temp_dir("vault-tamper").join("vault.json");
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(START));
    let key = MasterKey::generate().expect("key");
    let vault = FileVault::new(&path, key_copy(&key), Arc::clone(&clock));
    vault
        .set(&eu(), "a", SecretString::from("secret-a"))
        .await
        .expect("set");
    let original: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");

    let flip = |field: &str| {
        let mut doc = original.clone();
        let text = doc[field].as_str().expect("base64 field").to_owned();
        let mut bytes = base64_decode(&text);
        let last = bytes.len() - 1;
        bytes[last / 2] ^= 0x01;
        doc[field] = serde_json::Value::String(base64_encode(&bytes));
        doc
    };
    for doc in [flip("ciphertext"), flip("nonce")] {
        std::fs::write(&path, serde_json::to_vec(&doc).expect("json")).expect("write");
        let err = vault.get(&eu(), "a").await.expect_err("tampered");
        assert!(matches!(err, VaultError::Tampered { .. }), "{err}");
    }
    let mut doc = original.clone();
    doc["version"] = serde_json::json!(2);
    std::fs::write(&path, serde_json::to_vec(&doc).expect("json")).expect("write");
    let err = vault.get(&eu(), "a").await.expect_err("unknown version");
    assert!(matches!(err, VaultError::Format { .. }), "{err}");
    std::fs::write(&path, b"not json at all").expect("write");
    let err = vault.list().await.expect_err("garbage");
    assert!(matches!(err, VaultError::Format { .. }), "{err}");
}

#[cfg(unix)]
#[tokio::test]
async fn vault_and_key_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = crate::temp_dir("vault-mode");
    let key_file = dir.join("keys").join("master.key");
    let key = keygen(&key_file).expect("keygen");
    let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(mode(&key_file), 0o600);
    let err = keygen(&key_file).expect_err("must not overwrite a key");
    assert!(matches!(err, VaultError::KeyFileExists { .. }), "{err}");

    let loaded = MasterKey::from_file(&key_file).expect("load");
    assert_eq!(loaded.id(), key.id());
    let path = dir.join("vault.json");
    FileVault::new(&path, loaded, Arc::new(ManualClock::new(START)))
        .set(&eu(), "a", SecretString::from("x"))
        .await
        .expect("set");
    assert_eq!(mode(&path), 0o600);
}

#[test]
fn key_text_forms_and_sources() {
    let key = MasterKey::generate().expect("key");
    let b64 = key.to_base64();
    assert_eq!(b64.expose_secret().len(), 44);
    let hex: String = base64_decode(b64.expose_secret())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        MasterKey::from_text(&hex, "hex").expect("hex").id(),
        key.id()
    );
    assert_eq!(
        MasterKey::from_text(&format!("  {}\n", b64.expose_secret()), "padded")
            .expect("b64")
            .id(),
        key.id()
    );
    for bad in ["", "short", &"zz".repeat(32), &base64_encode(&[1u8; 16])] {
        let err = MasterKey::from_text(bad, "ML_CONNECTOR_MASTER_KEY").expect_err(bad);
        assert!(matches!(err, VaultError::InvalidKey { .. }), "{err}");
        assert!(
            !bad.is_empty() && !err.to_string().contains(bad) || bad.is_empty(),
            "key text leaked: {err}"
        );
    }

    let env = Some(SecretString::from(b64.expose_secret().to_owned()));
    assert_eq!(MasterKey::resolve(env, None).expect("env").id(), key.id());
    let err =
        MasterKey::resolve(None, Some(Path::new("/nonexistent/master.key"))).expect_err("none");
    assert!(matches!(err, VaultError::NoKey { .. }), "{err}");
    assert!(
        err.to_string().contains(MASTER_KEY_ENV)
            && err.to_string().contains("/nonexistent/master.key"),
        "{err}"
    );
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64")
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
