//! Typed, columnar training data, as read once from a SQL source.
//!
//! A column holds one SQL storage class for all its non-NULL values: integers and reals mixed
//! become [`ColumnData::Real`]; a column that mixes text with numbers, or holds blobs, is
//! rejected by the reader with a message naming the column and row.

pub use super::columns::{Number, Numbers, Texts};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// An owned SQL value: labels, user and item ids, and prediction results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// SQL INTEGER.
    Integer(i64),
    /// SQL REAL.
    Real(f64),
    /// SQL TEXT.
    Text(String),
}

/// A borrowed SQL value: one argument of a prediction call or one cell of a column.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Input<'a> {
    /// SQL NULL.
    Null,
    /// SQL INTEGER.
    Integer(i64),
    /// SQL REAL.
    Real(f64),
    /// SQL TEXT.
    Text(&'a str),
    /// SQL BLOB (accepted by no model; present so errors can name it).
    Blob(&'a [u8]),
}

/// A cell as a source holds it: text as bytes not yet checked to be UTF-8, anything else as
/// an input (batch prediction looks categories up by their bytes).
#[derive(Clone, Copy, Debug)]
pub enum Cell<'a> {
    /// Text, not yet checked to be UTF-8.
    Text(&'a [u8]),
    /// Any other value.
    Other(Input<'a>),
}

impl Input<'_> {
    /// The value as an owned [`Value`]; blobs become NULL.
    pub fn to_value(&self) -> Value {
        match *self {
            Input::Null | Input::Blob(_) => Value::Null,
            Input::Integer(i) => Value::Integer(i),
            Input::Real(r) => Value::Real(r),
            Input::Text(t) => Value::Text(t.to_string()),
        }
    }
    /// A short name of the SQL type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Input::Null => "NULL",
            Input::Integer(_) => "integer",
            Input::Real(_) => "real",
            Input::Text(_) => "text",
            Input::Blob(_) => "blob",
        }
    }
    /// The value as a number, if it is one.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Input::Integer(i) => Some(i as f64),
            Input::Real(r) => Some(r),
            _ => None,
        }
    }
}

impl Value {
    /// Borrow as an [`Input`].
    pub fn as_input(&self) -> Input<'_> {
        match self {
            Value::Null => Input::Null,
            Value::Integer(i) => Input::Integer(*i),
            Value::Real(r) => Input::Real(*r),
            Value::Text(t) => Input::Text(t),
        }
    }
    /// The value as JSON (text stays a string, numbers stay numbers).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Integer(i) => (*i).into(),
            Value::Real(r) => serde_json::Number::from_f64(*r)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::Text(t) => t.clone().into(),
        }
    }
    /// The value as a JSON object key (labels in `ml_predict_proba`).
    pub fn to_key(&self) -> String {
        match self {
            Value::Null => "null".to_string(),
            Value::Integer(i) => i.to_string(),
            Value::Real(r) => r.to_string(),
            Value::Text(t) => t.clone(),
        }
    }
    /// SQLite's sort order: NULL < numbers < text.
    pub fn sql_cmp(&self, other: &Value) -> Ordering {
        input_cmp(self.as_input(), other.as_input())
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Null => write!(f, "NULL"),
            Value::Integer(i) => write!(f, "{i}"),
            Value::Real(r) => write!(f, "{r}"),
            Value::Text(t) => write!(f, "'{t}'"),
        }
    }
}

/// The values of one column, stored compactly (`models::columns`): numbers dense in their
/// narrowest exact type, text dictionary-encoded, NULLs in a bitmap.
#[derive(Clone, Debug, PartialEq)]
pub enum ColumnData {
    /// Only integers (and NULLs).
    Integer(Numbers<i64>),
    /// Reals, or integers mixed with reals (and NULLs).
    Real(Numbers<f64>),
    /// Only text (and NULLs).
    Text(Texts),
    /// Only NULLs: the number of rows.
    Null(usize),
}

impl ColumnData {
    /// An integer column of these values (`None` is NULL).
    pub fn integers(values: Vec<Option<i64>>) -> ColumnData {
        ColumnData::Integer(values.into_iter().collect())
    }
    /// A real column of these values (`None` is NULL).
    pub fn reals(values: Vec<Option<f64>>) -> ColumnData {
        ColumnData::Real(values.into_iter().collect())
    }
    /// A text column of these values (`None` is NULL).
    pub fn texts(values: Vec<Option<String>>) -> ColumnData {
        ColumnData::Text(values.into_iter().collect())
    }
    /// Bytes the values take in memory (capacity included).
    pub fn bytes(&self) -> usize {
        match self {
            ColumnData::Integer(v) => v.bytes(),
            ColumnData::Real(v) => v.bytes(),
            ColumnData::Text(v) => v.bytes(),
            ColumnData::Null(_) => 0,
        }
    }
}

/// One named column of a [`Dataset`].
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    /// The column name as the source reports it.
    pub name: String,
    /// The values.
    pub data: ColumnData,
}

impl Column {
    /// The error for a NULL at `row` (0-based) where this column needs a value: `{role}
    /// 'name' is NULL in row N (filter with WHERE name IS NOT NULL)`, with the name quoted as
    /// an SQL identifier in the hint when it is not a plain one, so the hint runs as written.
    /// `role` says what the column is for ("target column", "user column", ...).
    pub fn null_at(&self, role: &str, row: usize) -> crate::Error {
        let name = crate::error::clip(&self.name);
        let plain = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        let sql = if plain { name.to_string() } else { format!("\"{}\"", name.replace('"', "\"\"")) };
        crate::Error::data(format!(
            "{role} '{name}' is NULL in row {} (filter with WHERE {sql} IS NOT NULL)",
            row + 1
        ))
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        match &self.data {
            ColumnData::Integer(v) => v.len(),
            ColumnData::Real(v) => v.len(),
            ColumnData::Text(v) => v.len(),
            ColumnData::Null(n) => *n,
        }
    }
    /// True when the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The value at `row`.
    pub fn get(&self, row: usize) -> Input<'_> {
        match &self.data {
            ColumnData::Integer(v) => v.get(row).map_or(Input::Null, Input::Integer),
            ColumnData::Real(v) => v.get(row).map_or(Input::Null, Input::Real),
            ColumnData::Text(v) => v.get(row).map_or(Input::Null, Input::Text),
            ColumnData::Null(_) => Input::Null,
        }
    }
    /// True if the column holds numbers (integers or reals).
    pub fn is_numeric(&self) -> bool {
        matches!(self.data, ColumnData::Integer(_) | ColumnData::Real(_))
    }
}

/// The error of `role` naming `name`, which is none of the source's columns `names`.
pub(crate) fn not_a_column(role: &str, name: &str, names: &[&str]) -> crate::Error {
    crate::Error::data(format!(
        "{role} '{name}' is not a column of the source (columns: {})",
        names.join(", ")
    ))
}

/// Columns read from a source, all of the same length.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dataset {
    /// The columns in source order.
    pub columns: Vec<Column>,
    /// Number of rows.
    pub n_rows: usize,
    /// Every column name of the source, in order, when only some of its columns were read
    /// (a training reads only the columns its options name); empty when [`Dataset::columns`]
    /// are all of them.
    pub source_columns: Vec<String>,
    /// The columns of the source that a training's read set aside: a value there could not be
    /// read (a blob, numbers mixed with text, text that is not UTF-8). They are not among
    /// [`Dataset::columns`]; asking for one by name ([`Dataset::column`]) is its error.
    pub unreadable: Vec<Unreadable>,
}

/// A column a read met ([`Dataset::met`]).
#[derive(Clone, Copy, Debug)]
pub enum Met<'a> {
    /// Read: [`Dataset::columns`]`[i]`.
    Read(usize),
    /// Set aside.
    Aside(&'a Unreadable),
}

/// A column of the source set aside by a training's read ([`Dataset::unreadable`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Unreadable {
    /// Its name as the source reports it.
    pub name: String,
    /// Its place among the columns the read met, those read and those set aside, in source
    /// order ([`Dataset::met`]).
    pub at: usize,
    /// Set aside for a blob (which no model can use), not for its mixed values or encoding.
    pub blob: bool,
    /// It may be a column of text: text that is not UTF-8, or text until a number came (not a
    /// blob, nor numbers until text came).
    pub maybe_text: bool,
    /// What its first value that could not be read was, and where.
    pub message: String,
}

impl Dataset {
    /// Builds a dataset; all columns must have the same length.
    pub fn new(columns: Vec<Column>) -> Self {
        let n_rows = columns.first().map_or(0, Column::len);
        debug_assert!(columns.iter().all(|c| c.len() == n_rows));
        Dataset { columns, n_rows, source_columns: Vec::new(), unreadable: Vec::new() }
    }

    /// The names of every column of the source, in order: those read, and those left unread
    /// ([`Dataset::source_columns`]).
    pub fn source_column_names(&self) -> Vec<&str> {
        if self.source_columns.is_empty() {
            self.column_names()
        } else {
            self.source_columns.iter().map(String::as_str).collect()
        }
    }
    /// Index of the column named `name` (ASCII case-insensitive, as SQL identifiers).
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name.eq_ignore_ascii_case(name))
    }
    /// The column named `name`, or an error listing the columns there are.
    /// `role` says what the column is for, e.g. "target column" or "option 'text'".
    /// A column set aside ([`Dataset::unreadable`]) is its own error.
    pub fn column(&self, name: &str, role: &str) -> crate::Result<&Column> {
        if let Some(i) = self.index_of(name) {
            return Ok(&self.columns[i]);
        }
        Err(match self.set_aside(name) {
            Some(u) => crate::Error::data(u.message.clone()),
            None => not_a_column(role, name, &self.source_column_names()),
        })
    }

    /// The columns the read met, in source order: those read and those set aside (not those
    /// left unread). With none set aside, every column read.
    pub fn met(&self) -> Vec<Met<'_>> {
        let mut aside = self.unreadable.iter().peekable();
        let mut read = 0..self.columns.len();
        (0..self.columns.len() + self.unreadable.len())
            .filter_map(|k| match aside.next_if(|u| u.at == k) {
                Some(u) => Some(Met::Aside(u)),
                None => read.next().map(Met::Read),
            })
            .collect()
    }

    /// The name of a column the read met.
    pub fn met_name<'a>(&'a self, m: Met<'a>) -> &'a str {
        match m {
            Met::Read(i) => &self.columns[i].name,
            Met::Aside(u) => &u.name,
        }
    }

    /// A column the read met, or, set aside, its error.
    pub fn met_column<'a>(&'a self, m: Met<'a>) -> crate::Result<&'a Column> {
        match m {
            Met::Read(i) => Ok(&self.columns[i]),
            Met::Aside(u) => Err(crate::Error::data(u.message.clone())),
        }
    }

    /// The column named `name` (ASCII case-insensitive) if the read set it aside.
    pub fn set_aside(&self, name: &str) -> Option<&Unreadable> {
        self.unreadable.iter().find(|u| u.name.eq_ignore_ascii_case(name))
    }

    /// Whether the source has a column named `name` (ASCII case-insensitive), read or not
    /// ([`Dataset::source_columns`]).
    pub fn in_source(&self, name: &str) -> bool {
        self.source_column_names().iter().any(|n| n.eq_ignore_ascii_case(name))
    }
    /// The names of all columns.
    pub fn column_names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }

    /// The rows `rows` (indices into this dataset), in that order.
    pub fn subset(&self, rows: &[usize]) -> Dataset {
        let columns = self
            .columns
            .iter()
            .map(|c| Column {
                name: c.name.clone(),
                data: match &c.data {
                    ColumnData::Integer(v) => ColumnData::Integer(rows.iter().map(|&r| v.get(r)).collect()),
                    ColumnData::Real(v) => ColumnData::Real(rows.iter().map(|&r| v.get(r)).collect()),
                    ColumnData::Text(v) => ColumnData::Text(rows.iter().map(|&r| v.get(r)).collect()),
                    ColumnData::Null(_) => ColumnData::Null(rows.len()),
                },
            })
            .collect();
        Dataset {
            columns,
            n_rows: rows.len(),
            source_columns: self.source_columns.clone(),
            unreadable: self.unreadable.clone(),
        }
    }
}

/// Class labels of a classification target, encoded as dense indices.
#[derive(Clone, Debug, PartialEq)]
pub struct EncodedLabels {
    /// The distinct labels in SQLite sort order; index = class id.
    pub classes: Vec<Value>,
    /// The class id of each row.
    pub y: Vec<u32>,
}

/// Encodes a target column as class ids. NULL labels are an error naming the first such row;
/// fewer than two classes is an error.
pub fn encode_labels(col: &Column) -> crate::Result<EncodedLabels> {
    let n = col.len();
    // Distinct labels, sorted, found without cloning every row: most rows repeat the label of
    // a recent row, and a binary search finds the others.
    let mut classes: Vec<Value> = Vec::new();
    let mut y = vec![0u32; n];
    let mut last: Option<Input<'_>> = None;
    for row in 0..n {
        let v = col.get(row);
        if matches!(v, Input::Null) {
            return Err(col.null_at("target column", row));
        }
        if last == Some(v) {
            continue;
        }
        if let Err(i) = classes.binary_search_by(|c| input_cmp(c.as_input(), v)) {
            classes.insert(i, v.to_value());
        }
        last = Some(v);
    }
    if classes.len() < 2 {
        return Err(crate::Error::data(format!(
            "target column '{}' has {} distinct value(s); a model of classes needs at least 2 to tell apart",
            col.name,
            classes.len()
        )));
    }
    // Class ids only after all classes are known (insertions shift indices).
    let mut last: Option<(Input<'_>, u32)> = None;
    for (row, slot) in y.iter_mut().enumerate() {
        let v = col.get(row);
        *slot = match last {
            Some((prev, id)) if prev == v => id,
            _ => {
                let id = classes.binary_search_by(|c| input_cmp(c.as_input(), v)).unwrap_or(0) as u32;
                last = Some((v, id));
                id
            }
        };
    }
    Ok(EncodedLabels { classes, y })
}

/// SQLite's order on borrowed values: NULL < numbers < text (blobs last).
fn input_cmp(a: Input<'_>, b: Input<'_>) -> Ordering {
    fn rank(v: &Input<'_>) -> u8 {
        match v {
            Input::Null => 0,
            Input::Integer(_) | Input::Real(_) => 1,
            Input::Text(_) => 2,
            Input::Blob(_) => 3,
        }
    }
    match (a, b) {
        (Input::Integer(x), Input::Integer(y)) => x.cmp(&y),
        (Input::Text(x), Input::Text(y)) => x.cmp(y),
        (Input::Blob(x), Input::Blob(y)) => x.cmp(y),
        (x, y) if rank(&x) == 1 && rank(&y) == 1 => {
            x.as_f64().unwrap_or(0.0).total_cmp(&y.as_f64().unwrap_or(0.0))
        }
        (x, y) => rank(&x).cmp(&rank(&y)),
    }
}

/// Finds the class id of `v` among `classes` (as sorted by [`encode_labels`]).
pub fn class_index(classes: &[Value], v: &Value) -> Option<usize> {
    classes.binary_search_by(|c| c.sql_cmp(v)).ok()
}

/// The class ids (into a model's `classes`) of the `target` column's rows, the first of which
/// is row `first` + 1 of the source (`ml_evaluate` and `evaluate` score labelled rows with
/// them). A NULL, or a value that is not one of `classes`, is an error naming the column and
/// the row; the memory is taken fallibly (its size comes from the source).
pub fn class_ids(target: &Column, classes: &[Value], first: usize) -> crate::Result<Vec<u32>> {
    let mut y = super::memory::with_capacity(target.len(), "the classes of the rows")?;
    for row in 0..target.len() {
        let v = target.get(row).to_value();
        if v == Value::Null {
            return Err(target.null_at("target column", first + row));
        }
        let c = class_index(classes, &v).ok_or_else(|| {
            let known = classes.iter().map(Value::to_string).collect::<Vec<_>>().join(", ");
            crate::Error::data(format!(
                "target column '{}' has the value {v} in row {}, which is not a class of this model (classes: {known})",
                crate::error::clip(&target.name),
                first + row + 1
            ))
        })?;
        y.push(c as u32);
    }
    Ok(y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_sorted_numbers_before_text() {
        let col = Column {
            name: "y".into(),
            data: ColumnData::texts(vec![Some("spam".into()), Some("ham".into()), Some("spam".into())]),
        };
        let enc = encode_labels(&col).unwrap();
        assert_eq!(enc.classes, vec![Value::Text("ham".into()), Value::Text("spam".into())]);
        assert_eq!(enc.y, vec![1, 0, 1]);
    }

    #[test]
    fn null_label_names_row() {
        let col = Column { name: "y".into(), data: ColumnData::integers(vec![Some(1), None]) };
        let err = encode_labels(&col).unwrap_err().to_string();
        assert_eq!(err, "target column 'y' is NULL in row 2 (filter with WHERE y IS NOT NULL)");
        let odd = Column { name: "first \"name\"".into(), data: ColumnData::Null(1) };
        assert_eq!(
            odd.null_at("user column", 0).to_string(),
            r#"user column 'first "name"' is NULL in row 1 (filter with WHERE "first ""name""" IS NOT NULL)"#
        );
    }

    #[test]
    fn one_class_is_an_error() {
        let col = Column { name: "y".into(), data: ColumnData::integers(vec![Some(1), Some(1)]) };
        assert!(encode_labels(&col).unwrap_err().to_string().contains("at least 2"));
    }
}
