//! The fixed training data of the three kinds, and training a model of a kind on it.

use crate::Result;
use crate::models::{self, Column, ColumnData, Common, Dataset, Model, Options};
use std::sync::OnceLock;

/// Tickets for the text kind: English, Chinese and a German line, three labels.
const TICKETS: &[(&str, &str)] = &[
    ("I was charged twice for my order", "billing"),
    ("refund the double charge please", "billing"),
    ("my invoice shows the wrong amount", "billing"),
    ("the card payment failed again", "billing"),
    ("Die Zahlung ist fehlgeschlagen", "billing"),
    ("我的订单被重复扣款了", "billing"),
    ("the app crashes when I log in", "bug"),
    ("error 500 after the update", "bug"),
    ("the button does nothing on android", "bug"),
    ("screen freezes while loading photos", "bug"),
    ("应用程序一打开就崩溃", "bug"),
    ("how do I change my password?", "account"),
    ("delete my account and my data", "account"),
    ("I can't sign in to my account", "account"),
    ("update the e-mail on my profile", "account"),
    ("如何修改我的密码", "account"),
];

/// The text kind's training data: columns `body`, `queue`.
pub fn text_data() -> Dataset {
    Dataset::new(vec![
        Column {
            name: "body".into(),
            data: ColumnData::texts(TICKETS.iter().map(|t| Some(t.0.to_string())).collect()),
        },
        Column {
            name: "queue".into(),
            data: ColumnData::texts(TICKETS.iter().map(|t| Some(t.1.to_string())).collect()),
        },
    ])
}

/// The text kind's data with many classes (counted by class in lists of runs): the tickets
/// twice (the second time each text's words rotated by half), in 20 queues of two tickets each.
pub fn many_classes_text_data() -> &'static Dataset {
    static DATA: OnceLock<Dataset> = OnceLock::new();
    DATA.get_or_init(|| {
        let n = TICKETS.len();
        let body = |i: usize| {
            let words: Vec<&str> = TICKETS[i % n].0.split(' ').collect();
            let turn = if i < n { 0 } else { words.len() / 2 };
            (0..words.len()).map(|w| words[(w + turn) % words.len()]).collect::<Vec<_>>().join(" ")
        };
        Dataset::new(vec![
            Column { name: "body".into(), data: ColumnData::texts((0..40).map(|i| Some(body(i))).collect()) },
            Column {
                name: "queue".into(),
                data: ColumnData::texts((0..40).map(|i| Some(format!("q{}", i % 20))).collect()),
            },
        ])
    })
}

/// The classifier's training data: a real with a NULL, a text with a NULL, an integer, a
/// 0/1 flag, and the label `churned`.
pub fn classifier_data() -> Dataset {
    let n = 24;
    let plans = ["basic", "pro", "team"];
    let amount = (0..n).map(|i| if i == 5 { None } else { Some(10.0 + (i * 7 % 13) as f64 * 2.5) }).collect();
    let plan = (0..n).map(|i| if i == 9 { None } else { Some(plans[i % 3].to_string()) }).collect();
    let visits = (0..n).map(|i| Some((i * 5 % 11) as i64)).collect();
    let flag = (0..n).map(|i| Some((i % 2) as i64)).collect();
    let churned =
        (0..n).map(|i| Some(if (i * 7 % 13) > 6 || i % 5 == 0 { "yes" } else { "no" }.into())).collect();
    Dataset::new(vec![
        Column { name: "amount".into(), data: ColumnData::reals(amount) },
        Column { name: "plan".into(), data: ColumnData::texts(plan) },
        Column { name: "visits".into(), data: ColumnData::integers(visits) },
        Column { name: "flag".into(), data: ColumnData::integers(flag) },
        Column { name: "churned".into(), data: ColumnData::texts(churned) },
    ])
}

/// The recommender's training data: integer users 1–6, text items `i1`–`i8`, ratings 1–5.
pub fn ratings_data() -> Dataset {
    let mut users = Vec::new();
    let mut items = Vec::new();
    let mut ratings = Vec::new();
    for u in 1..=6i64 {
        for i in 1..=8i64 {
            if (u * 3 + i * 5) % 4 == 0 {
                continue;
            }
            users.push(Some(u));
            items.push(Some(format!("i{i}")));
            ratings.push(Some(((u * i) % 5 + 1) as f64));
        }
    }
    Dataset::new(vec![
        Column { name: "user_id".into(), data: ColumnData::integers(users) },
        Column { name: "item".into(), data: ColumnData::texts(items) },
        Column { name: "rating".into(), data: ColumnData::reals(ratings) },
    ])
}

pub(super) fn datasets() -> &'static [(&'static str, Dataset, &'static str)] {
    static DATA: OnceLock<Vec<(&'static str, Dataset, &'static str)>> = OnceLock::new();
    DATA.get_or_init(|| {
        vec![
            ("text", text_data(), "queue"),
            ("classifier", classifier_data(), "churned"),
            ("recommender", ratings_data(), "rating"),
        ]
    })
}

pub(super) fn dataset(kind: &str) -> (&'static Dataset, &'static str) {
    let found = datasets().iter().find(|d| d.0 == kind).unwrap_or(&datasets()[0]);
    (&found.1, found.2)
}

/// Trains a model of `kind` on its fixed data with `options` (a JSON object), as `ml_train`
/// does: the common options first, then the kind's.
pub fn train(kind: &str, options: &str, target: Option<&str>) -> Result<Model> {
    let (data, _) = dataset(kind);
    let mut opts = Options::parse(Some(options))?;
    let common = Common::read(&mut opts)?;
    Ok(models::train(kind, data, target, &mut opts, &common)?.model)
}
