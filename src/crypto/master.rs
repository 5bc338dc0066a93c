//! The install's master key: an age X25519 identity.
//!
//! Every data key is wrapped with age to the master key's own recipient plus any configured
//! recovery recipients (for example an offline key kept in a safe), so the data survives the
//! loss of the server's key file.

use std::io::{Read, Write};
use std::path::Path;
use std::str::FromStr;

use age::secrecy::ExposeSecret;
use age::x25519;
use zeroize::Zeroizing;

use super::CryptoError;

pub struct MasterKey {
    identity: x25519::Identity,
    recipients: Vec<x25519::Recipient>,
    /// Master keys being rotated out: they still unwrap, never wrap.
    previous: Vec<x25519::Identity>,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey")
            .field("recipients", &self.recipients.len())
            .finish_non_exhaustive()
    }
}

impl MasterKey {
    /// Builds the key from an identity and the extra recovery recipients.
    pub fn new(identity: x25519::Identity, recovery: &[x25519::Recipient]) -> Self {
        let mut recipients = vec![identity.to_public()];
        recipients.extend(recovery.iter().cloned());
        Self {
            identity,
            recipients,
            previous: Vec::new(),
        }
    }

    /// Also unwraps with these older master keys (during a key rotation).
    pub fn with_previous(mut self, previous: Vec<x25519::Identity>) -> Self {
        self.previous = previous;
        self
    }

    /// The recipients every new wrap goes to: this master key and the recovery recipients.
    pub fn recipients(&self) -> &[x25519::Recipient] {
        &self.recipients
    }

    /// Whether `wrapped` is wrapped to exactly the current recipients: this key opens it and
    /// it has one stanza per recipient (X25519 stanzas do not name their recipient).
    pub fn is_current(&self, wrapped: &[u8]) -> bool {
        let stanzas = stanza_count(wrapped);
        stanzas == self.recipients.len() && self.unwrap_with(wrapped, false).is_ok()
    }

    /// Parses identity file text: comment lines (`# ...`) and blank lines are ignored.
    pub fn parse_identity(text: &str) -> Result<x25519::Identity, CryptoError> {
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .ok_or_else(|| CryptoError::MasterKey("the key file holds no age identity".into()))?;
        x25519::Identity::from_str(line).map_err(|_| {
            CryptoError::MasterKey(
                "the key file does not hold a valid age X25519 identity (AGE-SECRET-KEY-1…)".into(),
            )
        })
    }

    /// Parses a recovery recipient (`age1…`).
    pub fn parse_recipient(text: &str) -> Result<x25519::Recipient, CryptoError> {
        x25519::Recipient::from_str(text.trim()).map_err(|_| {
            CryptoError::MasterKey(format!(
                "'{}' is not an age X25519 recipient (age1…)",
                text.trim()
            ))
        })
    }

    /// Reads the identity from `path`, refusing files that group or others can read or write.
    pub fn load_identity_file(path: &Path) -> Result<x25519::Identity, CryptoError> {
        check_private_file(path)?;
        let mut text = Zeroizing::new(String::new());
        std::fs::File::open(path)
            .and_then(|mut f| f.read_to_string(&mut text))
            .map_err(|e| CryptoError::MasterKey(format!("cannot read {}: {e}", path.display())))?;
        Self::parse_identity(&text)
    }

    /// Generates a new identity and writes it to `path` with mode 0600; never overwrites.
    pub fn generate_identity_file(path: &Path) -> Result<x25519::Identity, CryptoError> {
        let identity = x25519::Identity::generate();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(|e| {
            CryptoError::MasterKey(format!("cannot create {}: {e}", path.display()))
        })?;
        let secret = identity.to_string();
        let contents = Zeroizing::new(format!(
            "# Hafen master key. Without it (or a recovery key) the data cannot be read.\n# public key: {}\n{}\n",
            identity.to_public(),
            secret.expose_secret()
        ));
        file.write_all(contents.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| CryptoError::MasterKey(format!("cannot write {}: {e}", path.display())))?;
        Ok(identity)
    }

    /// A 32-byte key for `purpose`, derived from the identity's secret: the same on every
    /// instance sharing the key, never stored (e.g. for signing widget CSRF tokens).
    pub fn derive(&self, purpose: &str) -> zeroize::Zeroizing<[u8; 32]> {
        use hkdf::Hkdf;
        let secret = self.identity.to_string();
        let hk = Hkdf::<sha2::Sha256>::new(
            Some(b"hafen/v1/master-derived"),
            secret.expose_secret().as_bytes(),
        );
        let mut out = zeroize::Zeroizing::new([0u8; 32]);
        // 32 bytes is far below HKDF's output limit.
        let _ = hk.expand(purpose.as_bytes(), out.as_mut());
        out
    }

    /// The public half, for the records and for `hafen doctor`.
    pub fn public_key(&self) -> String {
        self.identity.to_public().to_string()
    }

    /// Wraps a secret (a data key) to every recipient.
    pub fn wrap(&self, secret: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let encryptor = age::Encryptor::with_recipients(
            self.recipients.iter().map(|r| r as &dyn age::Recipient),
        )
        .map_err(|e| CryptoError::Wrap(e.to_string()))?;
        let mut out = Vec::with_capacity(secret.len() + 200 * self.recipients.len());
        let mut writer = encryptor
            .wrap_output(&mut out)
            .map_err(|e| CryptoError::Wrap(e.to_string()))?;
        writer
            .write_all(secret)
            .and_then(|()| writer.finish().map(|_| ()))
            .map_err(|e| CryptoError::Wrap(e.to_string()))?;
        Ok(out)
    }

    /// Unwraps a secret wrapped by [`MasterKey::wrap`].
    pub fn unwrap(&self, wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        self.unwrap_with(wrapped, true)
    }

    fn unwrap_with(
        &self,
        wrapped: &[u8],
        with_previous: bool,
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let decryptor = age::Decryptor::new_buffered(wrapped)
            .map_err(|e| CryptoError::Unwrap(e.to_string()))?;
        let previous = self.previous.iter().filter(|_| with_previous);
        let identities = std::iter::once(&self.identity)
            .chain(previous)
            .map(|i| i as &dyn age::Identity);
        let mut reader = decryptor
            .decrypt(identities)
            .map_err(|e| CryptoError::Unwrap(e.to_string()))?;
        let mut out = Zeroizing::new(Vec::with_capacity(32));
        reader
            .read_to_end(&mut out)
            .map_err(|e| CryptoError::Unwrap(e.to_string()))?;
        Ok(out)
    }
}

/// The number of X25519 recipient stanzas in an age file's header.
fn stanza_count(wrapped: &[u8]) -> usize {
    let header_end = wrapped
        .windows(5)
        .position(|w| w == b"\n--- ")
        .unwrap_or(wrapped.len());
    wrapped[..header_end]
        .split(|b| *b == b'\n')
        // age adds random "grease" stanzas; only X25519 ones are recipients.
        .filter(|line| line.starts_with(b"-> X25519 "))
        .count()
}

/// Refuses key files that anyone but the owner can read or write.
pub fn check_private_file(path: &Path) -> Result<(), CryptoError> {
    check_private(path).map_err(CryptoError::MasterKey)
}

/// Whether a secret file (a key of any kind) is readable by its owner only; the error says
/// what is wrong and how to fix it, the caller says which key it is.
pub fn check_private(path: &Path) -> Result<(), String> {
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "{} has mode {mode:04o}: group or others can access it. Run `chmod 600 {}` (and check who could have read it).",
                path.display(),
                path.display()
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_unwrap_and_recovery_recipient() {
        let recovery = x25519::Identity::generate();
        let key = MasterKey::new(x25519::Identity::generate(), &[recovery.to_public()]);
        let wrapped = key.wrap(b"0123456789abcdef0123456789abcdef").unwrap();
        assert_eq!(
            &key.unwrap(&wrapped).unwrap()[..],
            b"0123456789abcdef0123456789abcdef"
        );
        // The offline recovery key alone opens it too.
        let recovered = MasterKey::new(recovery, &[]).unwrap(&wrapped).unwrap();
        assert_eq!(&recovered[..], b"0123456789abcdef0123456789abcdef");
        // A stranger cannot.
        assert!(MasterKey::new(x25519::Identity::generate(), &[])
            .unwrap(&wrapped)
            .is_err());
    }

    #[test]
    fn previous_keys_unwrap_and_current_means_exactly_the_current_recipients() {
        let old = x25519::Identity::generate();
        let recovery = x25519::Identity::generate();
        let before = MasterKey::new(old.clone(), &[recovery.to_public()]);
        let wrapped = before.wrap(b"secret").unwrap();
        assert!(before.is_current(&wrapped));
        let new = x25519::Identity::generate();
        let during = MasterKey::new(new, &[recovery.to_public()]);
        assert!(
            during.unwrap(&wrapped).is_err(),
            "the old key is not known yet"
        );
        let during = during.with_previous(vec![old]);
        assert_eq!(&during.unwrap(&wrapped).unwrap()[..], b"secret");
        assert!(!during.is_current(&wrapped), "still wrapped to the old key");
        let rewrapped = during.wrap(b"secret").unwrap();
        assert!(during.is_current(&rewrapped));
        assert_eq!(stanza_count(&rewrapped), 2);
    }

    #[cfg(unix)]
    #[test]
    fn refuses_group_readable_key_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        MasterKey::generate_identity_file(&path).unwrap();
        assert!(MasterKey::load_identity_file(&path).is_ok());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let err = MasterKey::load_identity_file(&path)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("chmod 600"), "{err}");
        // Never overwrites an existing key.
        assert!(MasterKey::generate_identity_file(&path).is_err());
    }
}
