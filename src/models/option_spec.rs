//! Options declared once.
//!
//! Every option of `ml_train` is one [`Spec`]: its key (and the peers' names it also answers
//! to), the values it takes, its default (per algorithm where it differs), the algorithms it
//! applies to and one line of documentation. From the specs come the reader's validation and
//! defaults ([`super::Options`] reads through a spec, never through a bare key), the list of
//! allowed keys in the unknown-option error, and the option tables of `sql/reference.md` and of
//! the rustdoc (`table`; a test fails when the committed tables drift from the specs).
//!
//! The lists: [`super::options::COMMON`] (every kind), [`super::text::OPTIONS`],
//! [`super::mlp::OPTIONS`], [`super::recommender::OPTIONS`].
//!
//! # One vocabulary
//!
//! The same idea has one name across kinds: `epochs` (passes over the data, every iterative
//! kind), `factors` (latent factors of every recommender algorithm), `alpha` only for additive
//! smoothing, `confidence` for implicit ALS's confidence weight. The names users of the peers
//! look for are aliases: Surprise's `n_epochs` and `n_factors`, the `implicit` library's
//! `iterations` and `alpha` (for ALS). Giving a key and its alias together is an error.

use super::options::Range;

/// The values an option takes.
#[derive(Clone, Copy, Debug)]
pub enum Type {
    /// `true` / `false` (or 0 / 1, as SQLite's `json_object` writes them).
    Bool,
    /// An integer in `min..=max`.
    Int {
        /// Smallest value.
        min: i64,
        /// Largest value.
        max: i64,
    },
    /// A finite number in the range.
    Number(Range),
    /// A number in the range that also fits a 32-bit float.
    Float32(Range),
    /// One of these strings (case-insensitive).
    Choice(&'static [&'static str]),
    /// A string (a column name, a language).
    Text,
    /// A list of strings (a single string is a list of one).
    Texts,
    /// A list of non-negative integers (a single integer is a list of one).
    Ints,
    /// A JSON value of the option's own shape, described by the doc line.
    Json,
}

/// The default of an option.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Default {
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A number.
    Number(f64),
    /// A choice.
    Choice(&'static str),
    /// Decided by the data or by other options: the text says how.
    Derived(&'static str),
}

/// One option, declared once.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// The key.
    pub key: &'static str,
    /// Other names it answers to (the peers' names).
    pub aliases: &'static [&'static str],
    /// The values it takes.
    pub ty: Type,
    /// The default.
    pub default: Default,
    /// Defaults of particular algorithms, where they differ from `default`.
    pub by_algorithm: &'static [(&'static str, Default)],
    /// The algorithms it applies to; empty for every algorithm of the kind.
    pub algorithms: &'static [&'static str],
    /// One line: what it does.
    pub doc: &'static str,
}

impl Spec {
    /// A spec with no aliases, one default for every algorithm.
    pub const fn new(key: &'static str, ty: Type, default: Default, doc: &'static str) -> Spec {
        Spec { key, aliases: &[], ty, default, by_algorithm: &[], algorithms: &[], doc }
    }

    /// The same spec, also answering to `aliases`.
    pub const fn aliases(self, aliases: &'static [&'static str]) -> Spec {
        Spec { aliases, ..self }
    }

    /// The same spec, for `algorithms` only.
    pub const fn only(self, algorithms: &'static [&'static str]) -> Spec {
        Spec { algorithms, ..self }
    }

    /// The same spec, with other defaults for some algorithms.
    pub const fn by_algorithm(self, by_algorithm: &'static [(&'static str, Default)]) -> Spec {
        Spec { by_algorithm, ..self }
    }

    /// True if the option applies to `algorithm` (None: the kind has no algorithms, or it is
    /// not chosen yet).
    pub fn applies_to(&self, algorithm: Option<&str>) -> bool {
        match algorithm {
            Some(a) if !self.algorithms.is_empty() => self.algorithms.contains(&a),
            _ => true,
        }
    }

    /// The default for `algorithm`.
    pub fn default_for(&self, algorithm: Option<&str>) -> Default {
        algorithm
            .and_then(|a| self.by_algorithm.iter().find(|(name, _)| *name == a))
            .map_or(self.default, |(_, d)| *d)
    }

    /// True if `name` is the key or one of the aliases.
    pub fn answers_to(&self, name: &str) -> bool {
        self.key == name || self.aliases.contains(&name)
    }
}

impl Type {
    /// What the values must be, as error messages and the reference say it
    /// (`a positive integer`, `one of 'a', 'b'`).
    pub fn describe(&self) -> String {
        match *self {
            Type::Bool => "true or false".into(),
            Type::Int { min, max } => describe_int(min, max),
            Type::Number(range) => range.describe(),
            Type::Float32(range) => format!("{} (32-bit float)", range.describe()),
            Type::Choice(allowed) => {
                format!("one of {}", allowed.iter().map(|a| format!("'{a}'")).collect::<Vec<_>>().join(", "))
            }
            Type::Text => "a string".into(),
            Type::Texts => "a list of strings".into(),
            Type::Ints => "a list of non-negative integers".into(),
            Type::Json => "see the description".into(),
        }
    }
}

/// `a positive integer`, `an integer from 1 to 1024`...
pub(crate) fn describe_int(min: i64, max: i64) -> String {
    if min == 1 && max == i64::MAX {
        "a positive integer".to_string()
    } else if min == 0 && max == i64::MAX {
        "a non-negative integer".to_string()
    } else if max == i64::MAX {
        format!("an integer >= {min}")
    } else {
        format!("an integer from {min} to {max}")
    }
}

#[cfg(test)]
fn show_default(d: Default) -> String {
    match d {
        Default::Bool(b) => format!("`{b}`"),
        Default::Int(i) => format!("`{i}`"),
        Default::Number(n) => format!("`{}`", super::options::show_number(n)),
        Default::Choice(c) => format!("`'{c}'`"),
        Default::Derived(text) => text.to_string(),
    }
}

/// The markdown table of `specs`: key (and aliases), algorithms (when `algorithms` is true),
/// values, default, meaning. The reference and the rustdoc hold exactly this text.
#[cfg(test)]
pub fn table(specs: &[Spec], algorithms: bool) -> String {
    let mut out = String::new();
    if algorithms {
        out.push_str("| option | algorithms | values | default | meaning |\n|---|---|---|---|---|\n");
    } else {
        out.push_str("| option | values | default | meaning |\n|---|---|---|---|\n");
    }
    for s in specs {
        let mut key = format!("`{}`", s.key);
        if !s.aliases.is_empty() {
            let aliases: Vec<String> = s.aliases.iter().map(|a| format!("`{a}`")).collect();
            key.push_str(&format!(" (also {})", aliases.join(", ")));
        }
        let mut default = show_default(s.default);
        if !s.by_algorithm.is_empty() {
            let rest: Vec<String> =
                s.by_algorithm.iter().map(|(a, d)| format!("{} for {a}", show_default(*d))).collect();
            default = format!("{default}; {}", rest.join(", "));
        }
        let values = s.ty.describe();
        if algorithms {
            let algs = if s.algorithms.is_empty() { "all".to_string() } else { s.algorithms.join(", ") };
            out.push_str(&format!("| {key} | {algs} | {values} | {default} | {} |\n", s.doc));
        } else {
            out.push_str(&format!("| {key} | {values} | {default} | {} |\n", s.doc));
        }
    }
    out
}

/// Every kind's option table, by the name of its block in `sql/reference.md`
/// (`<!-- options:NAME -->` ... `<!-- /options:NAME -->`).
#[cfg(test)]
pub fn tables() -> Vec<(&'static str, String)> {
    vec![
        ("common", table(super::options::COMMON, false)),
        ("text", table(super::text::OPTIONS, false)),
        ("classifier", table(super::mlp::OPTIONS, false)),
        ("recommender", table(super::recommender::OPTIONS, true)),
    ]
}

/// The options of `kind` (one of [`super::KINDS`]), common ones first.
pub fn of_kind(kind: &str) -> Vec<&'static Spec> {
    let own: &'static [Spec] = match kind {
        "text" => super::text::OPTIONS,
        "classifier" => super::mlp::OPTIONS,
        "recommender" => super::recommender::OPTIONS,
        _ => &[],
    };
    super::options::COMMON.iter().chain(own).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_aliases_are_unique_per_kind() {
        for kind in super::super::KINDS {
            let mut names: Vec<&str> = Vec::new();
            for s in of_kind(kind) {
                for n in std::iter::once(&s.key).chain(s.aliases) {
                    assert!(!names.contains(n), "'{n}' declared twice for {kind}");
                    names.push(n);
                }
            }
        }
    }

    /// The option tables of `sql/reference.md` and of the rustdoc (`sql/options/*.md`, included
    /// by each kind's module docs) are exactly what the specs give (`SQLML_BLESS=1 cargo test`
    /// rewrites them).
    #[test]
    fn reference_tables_match_the_specs() {
        let root = env!("CARGO_MANIFEST_DIR");
        let bless = std::env::var_os("SQLML_BLESS").is_some();
        let drift = "the option tables differ from the specs; run SQLML_BLESS=1 cargo test --lib option_spec \
                     to rewrite them";
        let path = format!("{root}/sql/reference.md");
        let text = std::fs::read_to_string(&path).unwrap();
        let mut updated = text.clone();
        for (name, table) in tables() {
            let (open, close) = (format!("<!-- options:{name} -->\n"), format!("<!-- /options:{name} -->"));
            let start =
                updated.find(&open).unwrap_or_else(|| panic!("no {open} in sql/reference.md")) + open.len();
            let end = start + updated[start..].find(&close).unwrap_or_else(|| panic!("no {close}"));
            updated.replace_range(start..end, &table);
            let file = format!("{root}/sql/options/{name}.md");
            if std::fs::read_to_string(&file).ok().as_deref() != Some(table.as_str()) {
                assert!(bless, "{file}: {drift}");
                std::fs::write(&file, &table).unwrap();
            }
        }
        if updated != text {
            assert!(bless, "sql/reference.md: {drift}");
            std::fs::write(&path, &updated).unwrap();
        }
    }
}
