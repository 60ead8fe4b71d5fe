//! Training that stops being finite: one check and one error shape for every kind.
//!
//! A loss or parameters that become NaN or infinite end the training with
//! `training diverged at epoch 3: the loss is NaN (lower the option 'learning_rate', now 1e30)`:
//! where (when the kind trains in steps), what is not finite, and what to change.

use crate::Error;

/// Whether every value is finite (one branch-free pass, as cheap as reading them).
pub fn all_finite(v: &[f32]) -> bool {
    v.iter().fold(true, |ok, x| ok & x.is_finite())
}

/// `NaN` or `infinite`, for a value that is not finite.
pub fn nan_or_inf(x: f64) -> &'static str {
    if x.is_nan() { "NaN" } else { "infinite" }
}

/// The error of a training that diverged: `at` is the step (`("epoch", 3)`) when the kind
/// trains in steps, `what` what is not finite, `hint` what to change.
pub fn diverged(at: Option<(&str, usize)>, what: &str, hint: &str) -> Error {
    match at {
        Some((unit, step)) => Error::data(format!("training diverged at {unit} {step}: {what} ({hint})")),
        None => Error::data(format!("training diverged: {what} ({hint})")),
    }
}

/// `Ok` if `value` (named `what`, e.g. `the loss`) is finite, else [`diverged`] at that step.
pub fn check(value: f64, unit: &str, step: usize, what: &str, hint: &str) -> crate::Result<()> {
    if value.is_finite() {
        return Ok(());
    }
    Err(diverged(Some((unit, step)), &format!("{what} is {}", nan_or_inf(value)), hint))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_shape_for_every_kind() {
        assert!(check(1.5, "epoch", 1, "the loss", "h").is_ok());
        assert_eq!(
            check(f64::NAN, "epoch", 3, "the loss", "lower 'x'").unwrap_err().to_string(),
            "training diverged at epoch 3: the loss is NaN (lower 'x')"
        );
        assert_eq!(
            check(f64::NEG_INFINITY, "iteration", 2, "the loss", "h").unwrap_err().to_string(),
            "training diverged at iteration 2: the loss is infinite (h)"
        );
        assert_eq!(diverged(None, "w", "h").to_string(), "training diverged: w (h)");
        assert!(all_finite(&[1.0, -2.0]) && !all_finite(&[1.0, f32::NAN]) && !all_finite(&[f32::INFINITY]));
    }
}
