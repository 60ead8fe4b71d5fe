//! The structure-aware mutations of `decode_mutated`: one 4-byte operation on a JSON tree.

use serde_json::{Value as Json, json};

/// Numbers a mutation can write: sizes at and around powers of two and the integer type
/// limits, negative, fractional, tiny and huge (3.4e39 becomes infinity as an `f32`).
fn interesting(i: u8) -> Json {
    const INTEGERS: &[i128] = &[
        0,
        1,
        2,
        3,
        4,
        7,
        8,
        9,
        16,
        17,
        255,
        256,
        65_535,
        65_536,
        1 << 24,
        u32::MAX as i128,
        1 << 32,
        1 << 40,
        i64::MAX as i128,
        u64::MAX as i128,
        -1,
        -2,
        -9,
        i32::MIN as i128,
        i64::MIN as i128,
    ];
    const REALS: &[f64] =
        &[0.5, -0.5, 1.5, -0.0, 1e-300, 1e10, 3.4e39, -3.4e39, 1e300, -1e300, f64::MIN_POSITIVE];
    let i = i as usize % (INTEGERS.len() + REALS.len());
    match INTEGERS.get(i) {
        Some(&n) if n < 0 => json!(n as i64),
        Some(&n) => json!(n as u64),
        None => json!(REALS[i - INTEGERS.len()]),
    }
}

const STRINGS: &[&str] =
    &["", "a", "plan", "amount", "billing", "i1", "zz top", "Multinomial", "Svd", "Words"];

#[derive(Clone, Copy, PartialEq)]
enum Shape {
    Number,
    Array,
    String,
    Bool,
    Any,
}

fn shape_of(v: &Json) -> Shape {
    match v {
        Json::Number(_) => Shape::Number,
        Json::Array(_) => Shape::Array,
        Json::String(_) => Shape::String,
        Json::Bool(_) => Shape::Bool,
        _ => Shape::Any,
    }
}

fn count(v: &Json, shape: Shape) -> usize {
    let own = usize::from(shape == Shape::Any || shape_of(v) == shape);
    own + match v {
        Json::Array(a) => a.iter().map(|x| count(x, shape)).sum(),
        Json::Object(o) => o.values().map(|x| count(x, shape)).sum(),
        _ => 0,
    }
}

/// The path (child positions) to the `n`-th node of `shape` in depth-first order.
fn nth(v: &Json, shape: Shape, n: &mut usize, path: &mut Vec<usize>) -> bool {
    if shape == Shape::Any || shape_of(v) == shape {
        if *n == 0 {
            return true;
        }
        *n -= 1;
    }
    let children: Box<dyn Iterator<Item = &Json>> = match v {
        Json::Array(a) => Box::new(a.iter()),
        Json::Object(o) => Box::new(o.values()),
        _ => return false,
    };
    for (i, child) in children.enumerate() {
        path.push(i);
        if nth(child, shape, n, path) {
            return true;
        }
        path.pop();
    }
    false
}

fn pick(tree: &mut Json, shape: Shape, which: u16) -> Option<&mut Json> {
    let total = count(tree, shape);
    if total == 0 {
        return None;
    }
    let mut path = Vec::new();
    if !nth(tree, shape, &mut (which as usize % total), &mut path) {
        return None;
    }
    let mut node = tree;
    for i in path {
        node = match node {
            Json::Array(a) => a.get_mut(i)?,
            Json::Object(o) => o.values_mut().nth(i)?,
            _ => return None,
        };
    }
    Some(node)
}

/// Applies one 4-byte mutation `[op, node, node, arg]` to a JSON tree.
pub(super) fn mutate(tree: &mut Json, op: &[u8]) {
    let [op, n0, n1, arg] = [
        op[0],
        op.get(1).copied().unwrap_or(0),
        op.get(2).copied().unwrap_or(0),
        op.get(3).copied().unwrap_or(0),
    ];
    let which = u16::from_le_bytes([n0, n1]);
    let arg_usize = arg as usize;
    match op % 10 {
        0 => {
            if let Some(v) = pick(tree, Shape::Number, which) {
                *v = interesting(arg);
            }
        }
        1 => {
            if let Some(v) = pick(tree, Shape::Number, which) {
                let delta = i64::from(arg as i8);
                *v = match (v.as_i64(), v.as_u64(), v.as_f64()) {
                    (Some(i), _, _) => json!(i.saturating_add(delta)),
                    (None, Some(u), _) => json!(u.saturating_add_signed(delta)),
                    (_, _, Some(f)) => json!(f * (delta as f64 + 0.5)),
                    _ => v.clone(),
                };
            }
        }
        2 => {
            if let Some(Json::Array(a)) = pick(tree, Shape::Array, which)
                && !a.is_empty()
            {
                a.remove(arg_usize % a.len());
            }
        }
        3 => {
            if let Some(Json::Array(a)) = pick(tree, Shape::Array, which)
                && !a.is_empty()
            {
                let x = a[arg_usize % a.len()].clone();
                for _ in 0..1 + arg_usize % 3 {
                    a.push(x.clone());
                }
            }
        }
        4 => {
            if let Some(Json::Array(a)) = pick(tree, Shape::Array, which)
                && !a.is_empty()
            {
                let (i, j) = (arg_usize % a.len(), (arg_usize / 16) % a.len());
                a.swap(i, j);
            }
        }
        5 => {
            if let Some(Json::Array(a)) = pick(tree, Shape::Array, which) {
                a.truncate(arg_usize % (a.len() + 1));
            }
        }
        6 => {
            if let Some(v) = pick(tree, Shape::String, which) {
                *v = json!(STRINGS[arg_usize % STRINGS.len()]);
            }
        }
        7 => {
            if let Some(Json::Bool(b)) = pick(tree, Shape::Bool, which) {
                *b = !*b;
            }
        }
        8 => {
            // Inserts a number into an array (a list one longer than its partner lists).
            if let Some(Json::Array(a)) = pick(tree, Shape::Array, which) {
                let at = arg_usize % (a.len() + 1);
                let x = a.first().filter(|x| !x.is_number()).cloned().unwrap_or_else(|| interesting(arg));
                a.insert(at, x);
            }
        }
        _ => {
            // Replaces a node by a copy of another node of the same shape.
            let shape = [Shape::Number, Shape::Array, Shape::String][arg_usize % 3];
            let source = pick(tree, shape, u16::from(arg).wrapping_mul(257)).map(|v| v.clone());
            if let (Some(source), Some(v)) = (source, pick(tree, shape, which)) {
                *v = source;
            }
        }
    }
}
