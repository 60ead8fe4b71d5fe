//! Adam, with Keras' update rule and defaults (β1 0.9, β2 0.999, ε 1e-7).

/// Adam state for one flat parameter vector.
#[derive(Clone, Debug)]
pub struct Adam {
    lr: f32,
    beta1: f32,
    beta2: f32,
    epsilon: f32,
    m: Vec<f32>,
    v: Vec<f32>,
    beta1_power: f32,
    beta2_power: f32,
}

impl Adam {
    /// State for `n` parameters with learning rate `lr`.
    pub fn new(n: usize, lr: f32) -> Adam {
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-7,
            m: vec![0.0; n],
            v: vec![0.0; n],
            beta1_power: 1.0,
            beta2_power: 1.0,
        }
    }

    /// One update, as Keras computes it:
    /// `α = lr·sqrt(1−β2^t)/(1−β1^t)`, `m += (g−m)(1−β1)`, `v += (g²−v)(1−β2)`,
    /// `w −= α·m/(sqrt(v)+ε)`.
    pub fn step(&mut self, params: &mut [f32], grads: &[f32]) {
        let rule = self.advance();
        rule.update(params, grads, &mut self.m, &mut self.v);
    }

    /// Advances the step count and returns this step's update, which [`Rule::update`] applies
    /// to any part of the parameters (with their parts of the moments, [`Adam::moments_mut`]):
    /// each parameter's update reads only its own gradient and moments.
    pub(crate) fn advance(&mut self) -> Rule {
        self.beta1_power *= self.beta1;
        self.beta2_power *= self.beta2;
        let alpha = self.lr * (1.0 - self.beta2_power).sqrt() / (1.0 - self.beta1_power);
        Rule { alpha, b1: 1.0 - self.beta1, b2: 1.0 - self.beta2, eps: self.epsilon }
    }

    /// The first and second moments, one per parameter.
    pub(crate) fn moments_mut(&mut self) -> (&mut [f32], &mut [f32]) {
        (&mut self.m, &mut self.v)
    }
}

/// One step's Adam update ([`Adam::advance`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rule {
    alpha: f32,
    b1: f32,
    b2: f32,
    eps: f32,
}

impl Rule {
    /// Updates `params` from `grads` and their moments `m` and `v` (all of one length).
    pub(crate) fn update(&self, params: &mut [f32], grads: &[f32], m: &mut [f32], v: &mut [f32]) {
        super::kernels::adam(params, grads, m, v, self.alpha, self.b1, self.b2, self.eps);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_step_moves_each_weight_by_about_lr() {
        // With bias correction the first update is lr * g / (|g| + eps') ≈ lr * sign(g).
        let mut adam = Adam::new(2, 0.01);
        let mut w = [1.0f32, -1.0];
        adam.step(&mut w, &[0.5, -2.0]);
        assert!((w[0] - 0.99).abs() < 1e-6, "{w:?}");
        assert!((w[1] + 0.99).abs() < 1e-6, "{w:?}");
    }

    #[test]
    fn minimises_a_quadratic() {
        let mut adam = Adam::new(1, 0.1);
        let mut w = [5.0f32];
        for _ in 0..500 {
            let g = [2.0 * (w[0] - 3.0)];
            adam.step(&mut w, &g);
        }
        assert!((w[0] - 3.0).abs() < 0.05, "{w:?}");
    }
}
