//! Training: from the prepared rows to a fitted [`Recommender`] and its training report.

use super::factors::Factors;
use super::params::{Algorithm, Hyper};
use super::prepare::{duplicate_pairs, prepare, resolve_columns};
use super::validation::Validation;
use super::{Params, Recommender, als, baseline, factors, init, report, svd, svdpp};
use crate::Result;
use crate::models::memory::Budget;
use crate::models::options::{Common, show_f32};
use crate::models::setup::Setup;
use crate::models::{EpochLog, Trained, finite, split};
use serde_json::{Map, json};
use std::time::Instant;

/// Trains a recommender on `setup`'s training rows and reports on its held-out rows: data
/// preparation ([`super::prepare`]), the starting factors ([`init`]), the SGD epochs ([`svd`],
/// [`svdpp`], each followed by the per-epoch validation of [`super::validation`]) or ALS
/// iterations ([`als`]), then the report ([`report`]).
pub(super) fn fit(setup: &Setup<'_>, params: &Params) -> Result<Trained<Recommender>> {
    let common = setup.common;
    let implicit = params.algorithm.implicit();
    let cols = resolve_columns(setup.data, setup.target, params)?;
    let started = Instant::now();
    // Surprise's starting draws (see `init`) depend on the seed alone: the first of them are
    // made on the second core while this one prepares the rows (placed in rows once the ids'
    // order is known); through SQL, from before the rows were read ([`start_ahead`]).
    let ahead = match &params.hyper {
        Hyper::Sgd(sgd) => {
            Some(common.head_start.take_draws().filter(|d| d.seed() == common.seed).unwrap_or_else(|| {
                let most = setup.data.n_rows.saturating_mul(2).saturating_mul(sgd.n_factors);
                init::NumpyNormal::ahead(common.seed, most.min(DRAWS_AHEAD))
            }))
        }
        Hyper::Als(_) => None,
    };
    // Once the users and items are counted, the draws ahead stop at what the fit takes.
    let counted = |users: usize, items: usize| {
        if let (Some(ahead), Hyper::Sgd(sgd)) = (&ahead, &params.hyper) {
            ahead.enough(init::draws_taken(params.algorithm, users, items, sgd.n_factors));
        }
    };
    let prep = prepare(&cols, implicit, setup.train_rows(), &setup.test, counted)?;
    let (n_users, n_items) = (prep.users.len(), prep.items.len());
    check_memory(params, n_users, n_items, &common.budget)?;
    let control = &common.control;
    let by_user = prep.by_user;
    let train_rows = prep.fitted.rows;
    let mean = if implicit { 0.0 } else { prep.fitted.sum / train_rows as f64 };
    let rating_scale = if implicit {
        None
    } else {
        params.rating_scale.or(Some((f64::from(prep.fitted.lo), f64::from(prep.fitted.hi))))
    };
    let scale = rating_scale.unwrap_or((f64::NEG_INFINITY, f64::INFINITY));
    // Grouped by item from `by_user` where needed (ALS, the baseline of held-out metrics).
    let mut rng = split::rng(common.seed);
    let mut log = Vec::new();
    // Time spent on the held-out rows (per-epoch validation and the metrics at the end).
    let mut report_seconds = 0.0;
    let seconds = |t: Instant| t.elapsed().as_secs_f64();
    let (user_bias, item_bias, user_factors, item_factors, biased) = match &params.hyper {
        Hyper::Sgd(sgd) => {
            let biased = sgd.biased || params.algorithm == Algorithm::SvdPp;
            let hint = sgd_hint(sgd, params.algorithm);
            // Dropped with this arm, before the report (its buffer is not needed there).
            let mut validation = Validation::new(&prep.test, biased, mean as f32, scale)?;
            let mut on_epoch = |epoch: usize, rmse: f64, m: &svd::Fitted, users: &Factors| {
                finite::check(rmse, "epoch", epoch + 1, "the training RMSE", &hint)?;
                let scoring = Instant::now();
                let val_loss = validation.rmse(m, users, control)?;
                report_seconds += seconds(scoring);
                log.push(EpochLog {
                    epoch: epoch as u32 + 1,
                    loss: rmse,
                    val_loss,
                    metric: None,
                    seconds: seconds(started),
                });
                control.progress(epoch + 1, sgd.n_epochs, started, || {
                    let val = val_loss.map_or(String::new(), |v| format!(", val_rmse {v:.6}"));
                    format!("epoch {}/{}: rmse {rmse:.6}{val}", epoch + 1, sgd.n_epochs)
                });
                Ok(())
            };
            // Surprise's starting draws for the same seed (see `init`).
            let (users, items) = &prep.fitted.first_seen;
            let mut normal =
                ahead.map_or_else(|| init::NumpyNormal::new(common.seed), init::DrawsAhead::finish);
            let fitted = if params.algorithm == Algorithm::Svd {
                let start = svd::Fitted::init(users, items, mean as f32, sgd, &mut normal, control)?;
                svd::fit(&by_user, start, sgd, control, |e, r, m| on_epoch(e, r, m, &m.user_factors))?
            } else {
                let start = svdpp::State::init(users, items, mean as f32, sgd, &mut normal, control)?;
                svdpp::fit(&by_user, start, sgd, &mut rng, control, |e, r, s| {
                    if !r.is_finite() || prep.test.is_empty() {
                        return on_epoch(e, r, &s.fitted, &s.fitted.user_factors);
                    }
                    on_epoch(e, r, &s.fitted, &s.effective_user_factors(&by_user))
                })?
            };
            let finite =
                [&fitted.user_bias, &fitted.item_bias, &fitted.user_factors.data, &fitted.item_factors.data]
                    .iter()
                    .all(|v| finite::all_finite(v));
            if !finite {
                return Err(finite::diverged(
                    Some(("epoch", sgd.n_epochs)),
                    "the factors are not finite",
                    &hint,
                ));
            }
            (fitted.user_bias, fitted.item_bias, fitted.user_factors, fitted.item_factors, biased)
        }
        Hyper::Als(als_params) => {
            let hint = format!(
                "raise the option 'regularization', now {}, or lower 'alpha', now {}",
                show_f32(als_params.regularization),
                show_f32(als_params.alpha)
            );
            let (x, y) = als::fit(
                &by_user,
                &by_user.transpose(n_items)?,
                als_params,
                &mut rng,
                control,
                |it, loss, _, _| {
                    finite::check(loss, "iteration", it + 1, "the loss", &hint)?;
                    log.push(EpochLog {
                        epoch: it as u32 + 1,
                        loss,
                        val_loss: None,
                        metric: None,
                        seconds: seconds(started),
                    });
                    control.progress(it + 1, als_params.iterations, started, || {
                        format!("iteration {}/{}: loss {loss:.6}", it + 1, als_params.iterations)
                    });
                    Ok(())
                },
            )?;
            if !finite::all_finite(&x.data) || !finite::all_finite(&y.data) {
                return Err(finite::diverged(
                    Some(("iteration", als_params.iterations)),
                    "the factors are not finite",
                    &hint,
                ));
            }
            (Vec::new(), Vec::new(), x, y, false)
        }
    };
    let item_norms = item_factors.norms();
    let popularity = baseline::popularity(&by_user, n_items, mean, implicit);
    let mut model = Recommender {
        algorithm: params.algorithm,
        user_column: cols.user.name.clone(),
        item_column: cols.item.name.clone(),
        rating_column: cols.rating.map(|c| c.name.clone()),
        users: prep.users,
        items: prep.items,
        global_mean: mean,
        biased,
        user_bias,
        item_bias,
        user_factors,
        item_factors,
        item_norms,
        rating_scale,
        relevant: params.relevant,
        history: by_user,
        held_out_rated: None,
        popularity,
    };
    let fit_seconds = seconds(started);
    let mut details = Map::new();
    details.insert("algorithm".into(), json!(params.algorithm.name()));
    details.insert("users".into(), json!(n_users));
    details.insert("items".into(), json!(n_items));
    details.insert("factors".into(), json!(model.user_factors.k));
    details.insert("duplicate_pairs".into(), json!(duplicate_pairs(&model.history)));
    details.insert("fit_seconds".into(), json!(fit_seconds));
    if !implicit {
        details.insert("rating_scale".into(), json!(rating_scale.map(|(lo, hi)| [lo, hi])));
        details.insert("global_mean".into(), json!(mean));
    }
    let scoring = Instant::now();
    if !prep.test.is_empty() {
        model.held_out_rated = Some(report::held_out_rated(&prep.test, n_users, implicit)?);
    }
    let metrics =
        report::training_report(&model, &prep.test, &prep.test_user_keys, scale, &mut details, control)?;
    if !prep.test.is_empty() {
        report_seconds += seconds(scoring);
        details.insert("report_seconds".into(), json!(report_seconds));
    }
    Ok(Trained {
        train_rows,
        test_rows: prep.test.len(),
        held_out: Vec::new(),
        served_rows: train_rows,
        refit_epochs: None,
        model,
        metrics,
        details,
        log,
    })
}

/// Starts the starting draws of SVD and SVD++ for `common`'s seed on a second thread
/// ([`init::NumpyNormal::ahead`], at most [`DRAWS_AHEAD`]: the number of rows is not known
/// yet) and keeps them for the first fit ([`crate::models::options::HeadStart`]). Called
/// before the rows are read, so that the draws are made while SQLite reads them. Nothing for
/// ALS.
pub(super) fn start_ahead(params: &Params, common: &Common) {
    if let Hyper::Sgd(_) = params.hyper {
        common.head_start.put_draws(init::NumpyNormal::ahead(common.seed, DRAWS_AHEAD));
    }
}

/// At most this many starting draws (12 MB) are made while the rows are read and prepared: all of them
/// for 15,000 users and items of 100 factors. Fewer once the users and items are counted
/// ([`init::DrawsAhead::enough`]): the thread then stops at what the fit takes and leaves the
/// second core to the rows' preparation.
const DRAWS_AHEAD: usize = 1_500_000;

/// Checks the factor matrices a training of `params` over `users` and `items` takes against
/// `budget` before they are allocated (SVD++ also keeps implicit factors and copies of the user
/// factors; ALS a Gram matrix per half-step).
fn check_memory(params: &Params, users: usize, items: usize, budget: &Budget) -> Result<()> {
    let (key, k) = match &params.hyper {
        Hyper::Sgd(s) => ("n_factors", s.n_factors),
        Hyper::Als(a) => ("factors", a.factors),
    };
    let row = 4.0 * factors::stride_for(k) as f64;
    let (user_copies, item_copies) = match params.algorithm {
        Algorithm::SvdPp => (3.0, 2.0),
        Algorithm::Svd | Algorithm::Als => (1.0, 1.0),
    };
    let gram = if params.algorithm == Algorithm::Als { 12.0 * (row / 4.0) * (row / 4.0) } else { 0.0 };
    let bytes = row * (users as f64 * user_copies + items as f64 * item_copies) + gram;
    budget.check(key, &format!("the factors of {users} users and {items} items"), bytes)
}

/// What to lower when SGD diverges: `lr_all`, or the largest of the per-term rates.
fn sgd_hint(p: &svd::SgdParams, algorithm: Algorithm) -> String {
    let mut rates = vec![p.lr_bu, p.lr_bi, p.lr_pu, p.lr_qi];
    if algorithm == Algorithm::SvdPp {
        rates.push(p.lr_yj);
    }
    let largest = rates.iter().copied().fold(0.0f32, f32::max);
    if rates.iter().all(|&r| r == largest) {
        format!("lower the option 'lr_all', now {}", show_f32(largest))
    } else {
        let names = if algorithm == Algorithm::SvdPp {
            "'lr_bu', 'lr_bi', 'lr_pu', 'lr_qi', 'lr_yj'"
        } else {
            "'lr_bu', 'lr_bi', 'lr_pu', 'lr_qi'"
        };
        format!("lower the learning rates 'lr_all', {names}: the largest is now {}", show_f32(largest))
    }
}
