//! Credentials at rest: the [`SecretStore`] trait and an encrypted vault file.
//!
//! The vault file holds every secret of every connection (Commerce tokens, the SYSPRO operator
//! password ...), encrypted with XChaCha20-Poly1305 under a 32-byte master key kept outside the file:
//! in the environment variable [`MASTER_KEY_ENV`] or in a key file. The key is written as standard
//! base64 (44 characters with padding, as [`MasterKey::to_base64`] and `keygen` produce); 64 hex
//! digits are accepted too.
//!
//! Each write draws a fresh random 24-byte nonce, writes a temporary file with mode 0600, flushes it to
//! disk and renames it over the vault, so a crash leaves either the old or the new vault, never a torn
//! one. The file's header (format, version, cipher, key id) is authenticated with the contents: a wrong
//! key or any change to the file is reported as [`VaultError::WrongKey`] or [`VaultError::Tampered`],
//! never decrypted into garbage.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::clock::Clock;
use crate::state::ConnectionName;

/// The environment variable holding the master key.
pub const MASTER_KEY_ENV: &str = "ML_CONNECTOR_MASTER_KEY";

const FORMAT: &str = "ml-connector-vault";
const VERSION: u32 = 1;
const CIPHER: &str = "XChaCha20-Poly1305";
const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;

/// Why a vault operation failed. Messages never contain a secret or the key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// Neither the environment variable nor a key file supplied a master key.
    #[error("no master key: set {env} or pass a key file{}", key_file.as_ref().map(|p| format!(" (looked for {})", p.display())).unwrap_or_default())]
    NoKey {
        /// The environment variable consulted.
        env: &'static str,
        /// The key file looked for, if any.
        key_file: Option<PathBuf>,
    },

    /// The master key text is malformed.
    #[error("master key from {source_name} is invalid: {detail}")]
    InvalidKey {
        /// Where the key came from (the variable's name or the key file's path).
        source_name: String,
        /// What is wrong with it (never the key itself).
        detail: &'static str,
    },

    /// `keygen` refuses to overwrite an existing key file (that would make the vault unreadable).
    #[error("key file {} already exists; remove it first if you really mean to replace the key", path.display())]
    KeyFileExists {
        /// The key file.
        path: PathBuf,
    },

    /// Reading or writing a file failed.
    #[error("could not {action} {}", path.display())]
    Io {
        /// What was being done ("read", "write", "rename to" ...).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },

    /// The file is not a vault of a version this build reads.
    #[error("{} is not a readable vault file: {detail}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },

    /// The vault was encrypted under another master key.
    #[error("vault {} was written with a different master key (key id {found}, this key's id is {expected})", path.display())]
    WrongKey {
        /// The vault file.
        path: PathBuf,
        /// The key id stored in the file.
        found: String,
        /// The id of the key supplied.
        expected: String,
    },

    /// Authentication failed with the right key: the file was modified or damaged.
    #[error("vault {} failed authentication: it was modified or damaged", path.display())]
    Tampered {
        /// The vault file.
        path: PathBuf,
    },

    /// The operating system's random source failed.
    #[error("could not draw random bytes for {purpose}")]
    Random {
        /// What they were for.
        purpose: &'static str,
    },

    /// A secret name is not usable.
    #[error(
        "invalid secret name ({} characters): expected 1 to 128 letters, digits or `. _ - /` (the name of a secret, never the secret itself)",
        name.chars().count()
    )]
    InvalidName {
        /// The name given.
        name: String,
    },

    /// A secret the configuration names is not in the vault.
    #[error(
        "secret {name:?} of connection {connection} is not in {location}; add it with `ml-connector credentials set`"
    )]
    Missing {
        /// The connection.
        connection: ConnectionName,
        /// The secret's name.
        name: String,
        /// Where it was looked for.
        location: String,
    },
}

/// The 32-byte key that encrypts the vault. Its `Debug` output never shows the key.
pub struct MasterKey(SecretBox<[u8; KEY_LEN]>);

impl MasterKey {
    /// A new random key from the operating system's random source.
    ///
    /// # Errors
    /// [`VaultError::Random`] when the random source fails.
    pub fn generate() -> Result<Self, VaultError> {
        let key = chacha20poly1305::Key::try_generate().map_err(|_| VaultError::Random {
            purpose: "a master key",
        })?;
        let mut bytes = [0u8; KEY_LEN];
        bytes.copy_from_slice(key.as_slice());
        Ok(Self(SecretBox::new(Box::new(bytes))))
    }

    /// Parses a key written as standard base64 (44 characters) or 64 hex digits; surrounding
    /// whitespace is ignored. `source_name` says where it came from, for error messages.
    ///
    /// # Errors
    /// [`VaultError::InvalidKey`] when the text is neither form or does not hold 32 bytes.
    pub fn from_text(text: &str, source_name: &str) -> Result<Self, VaultError> {
        let text = text.trim();
        let invalid = |detail| VaultError::InvalidKey {
            source_name: source_name.to_owned(),
            detail,
        };
        let decoded = Zeroizing::new(
            if text.len() == 2 * KEY_LEN && text.bytes().all(|b| b.is_ascii_hexdigit()) {
                decode_hex(text).ok_or_else(|| invalid("not valid hex"))?
            } else {
                BASE64.decode(text).map_err(|_| {
                    invalid("expected standard base64 (44 characters) or 64 hex digits")
                })?
            },
        );
        if decoded.len() != KEY_LEN {
            return Err(invalid("the key must be exactly 32 bytes"));
        }
        let mut bytes = [0u8; KEY_LEN];
        bytes.copy_from_slice(&decoded);
        Ok(Self(SecretBox::new(Box::new(bytes))))
    }

    /// Reads the key from a key file.
    ///
    /// # Errors
    /// [`VaultError::Io`] when the file cannot be read, [`VaultError::InvalidKey`] when it does not
    /// hold a key.
    pub fn from_file(path: &Path) -> Result<Self, VaultError> {
        let text =
            Zeroizing::new(
                std::fs::read_to_string(path).map_err(|source| VaultError::Io {
                    action: "read the key file",
                    path: path.to_path_buf(),
                    source,
                })?,
            );
        Self::from_text(&text, &path.display().to_string())
    }

    /// The key from `env_value` (the value of [`MASTER_KEY_ENV`], if set) or else from `key_file`.
    ///
    /// # Errors
    /// [`VaultError::NoKey`] when neither is available, or the errors of [`MasterKey::from_text`] and
    /// [`MasterKey::from_file`].
    pub fn resolve(
        env_value: Option<SecretString>,
        key_file: Option<&Path>,
    ) -> Result<Self, VaultError> {
        if let Some(value) = env_value.filter(|v| !v.expose_secret().trim().is_empty()) {
            return Self::from_text(value.expose_secret(), MASTER_KEY_ENV);
        }
        match key_file {
            Some(path) if path.exists() => Self::from_file(path),
            _ => Err(VaultError::NoKey {
                env: MASTER_KEY_ENV,
                key_file: key_file.map(Path::to_path_buf),
            }),
        }
    }

    /// The key from the process environment ([`MASTER_KEY_ENV`]) or else from `key_file`.
    ///
    /// # Errors
    /// As [`MasterKey::resolve`].
    pub fn from_env_or_file(key_file: Option<&Path>) -> Result<Self, VaultError> {
        let env_value = std::env::var(MASTER_KEY_ENV).ok().map(SecretString::from);
        Self::resolve(env_value, key_file)
    }

    /// The key as standard base64, the form key files and the environment variable use.
    #[must_use]
    pub fn to_base64(&self) -> SecretString {
        SecretString::from(BASE64.encode(self.0.expose_secret()))
    }

    /// A short public identifier of the key (the first 8 bytes of a SHA-256 over a label and the key,
    /// in hex): stored in the vault header so a wrong key is told apart from a damaged file.
    #[must_use]
    pub fn id(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(b"ml-connector vault key id\0");
        hasher.update(self.0.expose_secret());
        let digest = hasher.finalize();
        digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
    }

    /// Writes the key to a new key file with mode 0600; refuses to overwrite an existing file.
    ///
    /// # Errors
    /// [`VaultError::KeyFileExists`] or [`VaultError::Io`].
    pub fn write_key_file(&self, path: &Path) -> Result<(), VaultError> {
        let io = |action| {
            move |source| VaultError::Io {
                action,
                path: path.to_path_buf(),
                source,
            }
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io("create the directory of"))?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = match options.open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(VaultError::KeyFileExists {
                    path: path.to_path_buf(),
                });
            }
            Err(e) => return Err(io("create the key file")(e)),
        };
        let text = Zeroizing::new(format!("{}\n", self.to_base64().expose_secret()));
        file.write_all(text.as_bytes())
            .map_err(io("write the key file"))?;
        file.sync_all().map_err(io("flush the key file"))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.0.expose_secret().into())
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

/// Generates a master key and writes it to `key_file` (mode 0600), for `ml-connector keygen`.
///
/// # Errors
/// As [`MasterKey::generate`] and [`MasterKey::write_key_file`].
pub fn keygen(key_file: &Path) -> Result<MasterKey, VaultError> {
    let key = MasterKey::generate()?;
    key.write_key_file(key_file)?;
    Ok(key)
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let digit = |b: u8| {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    text.as_bytes()
        .chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(*pair.get(1)?)?))
        .collect()
}

/// What `credentials list` shows about a secret: never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretInfo {
    /// The connection it belongs to.
    pub connection: ConnectionName,
    /// The secret's name.
    pub name: String,
    /// When it was last set.
    #[serde(with = "time::serde::rfc3339")]
    pub set_at: OffsetDateTime,
}

/// Where connection secrets are kept.
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// The secret `name` of `connection`, if set.
    ///
    /// # Errors
    /// [`VaultError`] when the store cannot be read.
    async fn get(
        &self,
        connection: &ConnectionName,
        name: &str,
    ) -> Result<Option<SecretString>, VaultError>;

    /// Sets (or replaces) a secret.
    ///
    /// # Errors
    /// [`VaultError`] when the store cannot be written or the name is invalid.
    async fn set(
        &self,
        connection: &ConnectionName,
        name: &str,
        value: SecretString,
    ) -> Result<(), VaultError>;

    /// Removes a secret; returns whether it existed.
    ///
    /// # Errors
    /// [`VaultError`] when the store cannot be written.
    async fn remove(&self, connection: &ConnectionName, name: &str) -> Result<bool, VaultError>;

    /// Every secret's connection, name and time set, in order.
    ///
    /// # Errors
    /// [`VaultError`] when the store cannot be read.
    async fn list(&self) -> Result<Vec<SecretInfo>, VaultError>;

    /// Where the secrets live, for messages (a file path, "memory" ...).
    fn location(&self) -> String;

    /// The secret `name` of `connection`, which the configuration says must exist.
    ///
    /// # Errors
    /// [`VaultError::Missing`] when it is not set, or the errors of [`SecretStore::get`].
    async fn require(
        &self,
        connection: &ConnectionName,
        name: &str,
    ) -> Result<SecretString, VaultError> {
        self.get(connection, name)
            .await?
            .ok_or_else(|| VaultError::Missing {
                connection: connection.clone(),
                name: name.to_owned(),
                location: self.location(),
            })
    }
}

/// Entry names follow the configuration's rule for secret names, so every name a configuration can
/// refer to can be stored.
fn check_name(name: &str) -> Result<(), VaultError> {
    crate::config::SecretName::new(name)
        .map(|_| ())
        .map_err(|_| VaultError::InvalidName {
            name: name.to_owned(),
        })
}

type Entries = BTreeMap<(ConnectionName, String), (SecretString, OffsetDateTime)>;

fn infos(entries: &Entries) -> Vec<SecretInfo> {
    entries
        .iter()
        .map(|((connection, name), (_, set_at))| SecretInfo {
            connection: connection.clone(),
            name: name.clone(),
            set_at: *set_at,
        })
        .collect()
}

/// Secrets in process memory, for tests and embedding.
#[derive(Clone)]
pub struct MemorySecretStore {
    entries: Arc<Mutex<Entries>>,
    clock: Arc<dyn Clock>,
}

impl MemorySecretStore {
    /// An empty store stamping `set_at` from `clock`.
    #[must_use]
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            entries: Arc::new(Mutex::new(Entries::new())),
            clock,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

impl fmt::Debug for MemorySecretStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemorySecretStore")
            .field("secrets", &self.lock().len())
            .finish()
    }
}

#[async_trait]
impl SecretStore for MemorySecretStore {
    async fn get(
        &self,
        connection: &ConnectionName,
        name: &str,
    ) -> Result<Option<SecretString>, VaultError> {
        Ok(self
            .lock()
            .get(&(connection.clone(), name.to_owned()))
            .map(|(value, _)| value.clone()))
    }

    async fn set(
        &self,
        connection: &ConnectionName,
        name: &str,
        value: SecretString,
    ) -> Result<(), VaultError> {
        check_name(name)?;
        let now = self.clock.now();
        self.lock()
            .insert((connection.clone(), name.to_owned()), (value, now));
        Ok(())
    }

    async fn remove(&self, connection: &ConnectionName, name: &str) -> Result<bool, VaultError> {
        Ok(self
            .lock()
            .remove(&(connection.clone(), name.to_owned()))
            .is_some())
    }

    async fn list(&self) -> Result<Vec<SecretInfo>, VaultError> {
        Ok(infos(&self.lock()))
    }

    fn location(&self) -> String {
        "the in-memory secret store".to_owned()
    }
}

/// The vault file's outer, unencrypted layer. Every field but the ciphertext is also authenticated as
/// associated data.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    format: String,
    version: u32,
    cipher: String,
    key_id: String,
    nonce: String,
    ciphertext: String,
}

impl Envelope {
    fn associated_data(&self) -> Vec<u8> {
        format!(
            "{}\n{}\n{}\n{}",
            self.format, self.version, self.cipher, self.key_id
        )
        .into_bytes()
    }
}

#[derive(Serialize)]
struct PlainEntryOut<'a> {
    connection: &'a str,
    name: &'a str,
    value: &'a str,
    #[serde(with = "time::serde::rfc3339")]
    set_at: OffsetDateTime,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlainEntryIn {
    connection: String,
    name: String,
    value: String,
    #[serde(with = "time::serde::rfc3339")]
    set_at: OffsetDateTime,
}

/// The encrypted vault file. The file is read on every call, so a secret changed by
/// `ml-connector credentials set` is seen by a running process without a restart.
pub struct FileVault {
    path: PathBuf,
    key: Arc<MasterKey>,
    clock: Arc<dyn Clock>,
    writer: tokio::sync::Mutex<()>,
}

impl fmt::Debug for FileVault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileVault")
            .field("path", &self.path)
            .field("key_id", &self.key.id())
            .finish_non_exhaustive()
    }
}

impl FileVault {
    /// A vault at `path` under `key`. A missing file is an empty vault, created on the first `set`.
    #[must_use]
    pub fn new(path: impl Into<PathBuf>, key: MasterKey, clock: Arc<dyn Clock>) -> Self {
        Self {
            path: path.into(),
            key: Arc::new(key),
            clock,
            writer: tokio::sync::Mutex::new(()),
        }
    }

    /// The vault file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads and decrypts the whole vault, checking the key and the file's integrity.
    ///
    /// # Errors
    /// [`VaultError::Io`], [`VaultError::Format`], [`VaultError::WrongKey`] or
    /// [`VaultError::Tampered`].
    pub async fn verify(&self) -> Result<usize, VaultError> {
        Ok(self.load().await?.len())
    }

    async fn load(&self) -> Result<Entries, VaultError> {
        let path = self.path.clone();
        let key = Arc::clone(&self.key);
        blocking(move || read_vault(&path, &key)).await
    }

    async fn store(&self, entries: Entries) -> Result<(), VaultError> {
        let path = self.path.clone();
        let key = Arc::clone(&self.key);
        blocking(move || write_vault(&path, &key, &entries)).await
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, VaultError> + Send + 'static,
) -> Result<T, VaultError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()))
}

fn read_vault(path: &Path, key: &MasterKey) -> Result<Entries, VaultError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Entries::new()),
        Err(source) => {
            return Err(VaultError::Io {
                action: "read the vault",
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let format = |detail: String| VaultError::Format {
        path: path.to_path_buf(),
        detail,
    };
    let envelope: Envelope = serde_json::from_slice(&bytes)
        .map_err(|e| format(format!("not a vault envelope ({e})")))?;
    if envelope.format != FORMAT {
        return Err(format(format!(
            "format is {:?}, expected {FORMAT:?}",
            envelope.format
        )));
    }
    if envelope.version != VERSION || envelope.cipher != CIPHER {
        return Err(format(format!(
            "version {} with cipher {:?}; this build reads version {VERSION} with {CIPHER}",
            envelope.version, envelope.cipher
        )));
    }
    let expected = key.id();
    if envelope.key_id != expected {
        return Err(VaultError::WrongKey {
            path: path.to_path_buf(),
            found: envelope.key_id,
            expected,
        });
    }
    let tampered = || VaultError::Tampered {
        path: path.to_path_buf(),
    };
    let nonce = BASE64.decode(&envelope.nonce).map_err(|_| tampered())?;
    let nonce = XNonce::try_from(nonce.as_slice()).map_err(|_| tampered())?;
    let ciphertext = BASE64
        .decode(&envelope.ciphertext)
        .map_err(|_| tampered())?;
    let aad = envelope.associated_data();
    let plaintext = Zeroizing::new(
        key.cipher()
            .decrypt(
                &nonce,
                Payload {
                    msg: &ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| tampered())?,
    );
    let stored: Vec<PlainEntryIn> = serde_json::from_slice(&plaintext).map_err(|e| {
        format(format!(
            "decrypted contents are not a list of secrets ({})",
            json_problem(&e)
        ))
    })?;
    let mut entries = Entries::new();
    for entry in stored {
        let connection = ConnectionName::new(entry.connection)
            .map_err(|e| format(format!("an entry has an invalid connection: {e}")))?;
        entries.insert(
            (connection, entry.name),
            (SecretString::from(entry.value), entry.set_at),
        );
    }
    Ok(entries)
}

/// Describes a JSON error by kind and position only: serde's own message can quote the input, which
/// here is secret.
fn json_problem(error: &serde_json::Error) -> String {
    format!(
        "{:?} error at line {} column {}",
        error.classify(),
        error.line(),
        error.column()
    )
}

fn write_vault(path: &Path, key: &MasterKey, entries: &Entries) -> Result<(), VaultError> {
    let out: Vec<PlainEntryOut<'_>> = entries
        .iter()
        .map(|((connection, name), (value, set_at))| PlainEntryOut {
            connection: connection.as_str(),
            name,
            value: value.expose_secret(),
            set_at: *set_at,
        })
        .collect();
    let mut plaintext = Zeroizing::new(Vec::new());
    serde_json::to_writer(&mut *plaintext, &out).map_err(|e| VaultError::Format {
        path: path.to_path_buf(),
        detail: format!("could not encode the secrets ({})", json_problem(&e)),
    })?;
    let nonce = XNonce::try_generate().map_err(|_| VaultError::Random {
        purpose: "a vault nonce",
    })?;
    let mut envelope = Envelope {
        format: FORMAT.to_owned(),
        version: VERSION,
        cipher: CIPHER.to_owned(),
        key_id: key.id(),
        nonce: BASE64.encode(nonce.as_slice()),
        ciphertext: String::new(),
    };
    debug_assert_eq!(nonce.len(), NONCE_LEN);
    let aad = envelope.associated_data();
    let ciphertext = key
        .cipher()
        .encrypt(
            &nonce,
            Payload {
                msg: &plaintext,
                aad: &aad,
            },
        )
        .map_err(|_| VaultError::Format {
            path: path.to_path_buf(),
            detail: "encryption failed".to_owned(),
        })?;
    envelope.ciphertext = BASE64.encode(ciphertext);
    let mut bytes = serde_json::to_vec_pretty(&envelope).map_err(|e| VaultError::Format {
        path: path.to_path_buf(),
        detail: format!("could not encode the envelope ({})", json_problem(&e)),
    })?;
    bytes.push(b'\n');
    replace_atomically(path, &bytes)
}

/// Writes `bytes` to a temporary file beside `path` (mode 0600), flushes it, renames it over `path`
/// and flushes the directory, so readers see the old or the new file, whole.
fn replace_atomically(path: &Path, bytes: &[u8]) -> Result<(), VaultError> {
    let io = |action: &'static str, at: &Path| {
        let at = at.to_path_buf();
        move |source| VaultError::Io {
            action,
            path: at,
            source,
        }
    };
    let dir = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => dir.to_path_buf(),
        None => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(io("create the directory", &dir))?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "vault".to_owned());
    let temp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let result = (|| {
        let mut file = options.open(&temp).map_err(io("create", &temp))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // `mode` above only applies when the file is new; a leftover temporary file keeps its own.
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(io("restrict permissions of", &temp))?;
        }
        file.write_all(bytes).map_err(io("write", &temp))?;
        file.sync_all().map_err(io("flush", &temp))?;
        std::fs::rename(&temp, path).map_err(io("replace", path))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result?;
    #[cfg(unix)]
    if let Ok(dir_handle) = std::fs::File::open(&dir) {
        dir_handle
            .sync_all()
            .map_err(io("flush the directory", &dir))?;
    }
    Ok(())
}

#[async_trait]
impl SecretStore for FileVault {
    async fn get(
        &self,
        connection: &ConnectionName,
        name: &str,
    ) -> Result<Option<SecretString>, VaultError> {
        Ok(self
            .load()
            .await?
            .remove(&(connection.clone(), name.to_owned()))
            .map(|(value, _)| value))
    }

    async fn set(
        &self,
        connection: &ConnectionName,
        name: &str,
        value: SecretString,
    ) -> Result<(), VaultError> {
        check_name(name)?;
        let _writer = self.writer.lock().await;
        let mut entries = self.load().await?;
        entries.insert(
            (connection.clone(), name.to_owned()),
            (value, self.clock.now()),
        );
        self.store(entries).await
    }

    async fn remove(&self, connection: &ConnectionName, name: &str) -> Result<bool, VaultError> {
        let _writer = self.writer.lock().await;
        let mut entries = self.load().await?;
        let existed = entries
            .remove(&(connection.clone(), name.to_owned()))
            .is_some();
        if existed {
            self.store(entries).await?;
        }
        Ok(existed)
    }

    async fn list(&self) -> Result<Vec<SecretInfo>, VaultError> {
        Ok(infos(&self.load().await?))
    }

    fn location(&self) -> String {
        format!("vault {}", self.path.display())
    }
}
