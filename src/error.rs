//! The one error type of sqlml.
//!
//! Messages follow the house style: lowercase, no trailing period, user values quoted with
//! single quotes, "expected X, got Y" for mismatches, and a next step in parentheses when one
//! obvious step exists. The SQL layer prefixes the function name (`ml_train: ...`); nothing
//! below it knows SQL function names. No message ever contains key material or plaintext.

/// Everything that can go wrong in sqlml.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An option has the wrong type or is out of range, e.g.
    /// `option 'epochs' must be a positive integer, got -3`.
    #[error("option '{key}' {message}")]
    InvalidOption {
        /// The option key as the user wrote it.
        key: String,
        /// What was expected and what was given.
        message: String,
    },
    /// An option key that the model kind does not know.
    #[error("unknown option '{key}' (expected one of: {allowed})")]
    UnknownOption {
        /// The unknown key.
        key: String,
        /// The allowed keys, comma separated.
        allowed: String,
    },
    /// A function argument is missing, of the wrong type or out of range.
    #[error("{0}")]
    InvalidArgument(String),
    /// The training or evaluation data cannot be used as it is.
    #[error("{0}")]
    InvalidData(String),
    /// The operation does not apply to this kind of model.
    #[error("{0}")]
    Unsupported(String),
    /// No model of that name exists.
    #[error(
        "no model named '{0}' (train one with ml_train, or list models with: SELECT name, version FROM ml_models)"
    )]
    NoModel(String),
    /// The model exists but not in that version.
    #[error(
        "model '{name}' has no version {version} (list versions with: SELECT version FROM ml_models WHERE name = '{name}')"
    )]
    NoVersion {
        /// Model name.
        name: String,
        /// Requested version.
        version: i64,
    },
    /// The blob does not open with this key: wrong key, tampered bytes or a blob moved to
    /// another row. Deliberately one fixed message.
    #[error("cannot decrypt model '{0}': wrong key or corrupted data")]
    Decrypt(String),
    /// No key has been given on this connection.
    #[error(
        "no key for this database (call SELECT ml_unlock('passphrase') first, or set the environment variable SQLML_KEY)"
    )]
    Locked,
    /// This connection unlocked the database, but its key has changed since (another connection
    /// ran `ml_rekey`, or the file was replaced).
    #[error(
        "this database's key changed since this connection unlocked it (ml_rekey on another connection, or another file): call SELECT ml_unlock('passphrase') with its passphrase now"
    )]
    KeyChanged,
    /// `ml_unlock` was given a passphrase that does not match this database's key check.
    #[error("wrong passphrase for this database")]
    WrongPassphrase,
    /// A stored model was written by a newer build.
    #[error(
        "model '{name}' has format version {found}; this build reads up to {supported} (upgrade the extension)"
    )]
    FormatVersion {
        /// Model name.
        name: String,
        /// Version found in the blob.
        found: u32,
        /// Highest version this build reads.
        supported: u32,
    },
    /// Encoding or decoding of a model's plaintext failed (corrupt data under a valid key).
    #[error("model encoding failed: {0}")]
    Codec(String),
    /// sqlml's own state in the database file (the key record in `ml_meta`, the shape of
    /// `ml_models`, `ml_meta` and `ml_training_log`, triggers on them) is damaged or not as
    /// sqlml wrote it. Nothing is written while this holds.
    #[error("{0}")]
    Damaged(String),
    /// The call was refused because of where it came from: from inside another sqlml call on
    /// the same connection (a `source` that calls sqlml), or from the database schema (a
    /// view, trigger, CHECK, DEFAULT, generated column or index) rather than top-level SQL.
    #[error("{0}")]
    Refused(String),
    /// A fault inside sqlml (a broken invariant, not the caller's input).
    #[error("internal error: {0} (please report it)")]
    Internal(String),
    /// An error from SQLite itself.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

/// At most this many characters of a user value are quoted in an error message.
pub const QUOTE_LIMIT: usize = 200;

/// `value` as it may appear inside an error message: whole when short, otherwise its first
/// [`QUOTE_LIMIT`] characters followed by `…` and the full length, so a 200 MB argument
/// never becomes a 200 MB message.
pub fn clip(value: &str) -> std::borrow::Cow<'_, str> {
    match value.char_indices().nth(QUOTE_LIMIT) {
        None => std::borrow::Cow::Borrowed(value),
        Some((end, _)) => std::borrow::Cow::Owned(format!("{}… ({} bytes)", &value[..end], value.len())),
    }
}

/// Result with sqlml's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Shorthand for [`Error::InvalidOption`].
    pub fn option(key: &str, message: impl Into<String>) -> Self {
        Error::InvalidOption { key: key.to_string(), message: message.into() }
    }
    /// Shorthand for [`Error::InvalidData`].
    pub fn data(message: impl Into<String>) -> Self {
        Error::InvalidData(message.into())
    }
    /// Shorthand for [`Error::InvalidArgument`].
    pub fn argument(message: impl Into<String>) -> Self {
        Error::InvalidArgument(message.into())
    }

    /// The [`Error::Internal`] of a thread that panicked (its panic caught by a join or
    /// `catch_unwind`): `internal error: the helper thread of what panicked: message (...)`.
    /// A panic never crosses into the host; this is how it reaches the caller instead.
    pub fn panicked(what: &str, payload: Box<dyn std::any::Any + Send>) -> Self {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".into());
        Error::Internal(format!("{what} panicked: {}", clip(&message)))
    }
}
