"""LAMB: layer-wise adaptive moments for large batches, `"zoo_lamb"`."""

from keras import ops

from keras_optim_zoo.core import ZooOptimizer, fraction, positive, register


@register("zoo_lamb")
class Lamb(ZooOptimizer):
    r"""LAMB: Adam's direction, rescaled per variable by a trust ratio.

    $$ m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
       v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2 $$
    $$ r_t = \frac{m_t/(1-\beta_1^t)}{\sqrt{v_t/(1-\beta_2^t)} + \epsilon},
       \qquad \rho_t = \frac{\lVert\theta\rVert}{\lVert r_t\rVert}, \qquad
       \theta_t = \theta - \eta_t\, \rho_t\, r_t $$

    with norms over the whole variable, and $\rho_t = 1$ when either norm
    is zero (a variable initialised at zero, such as a bias, then takes
    plain Adam steps until it moves). Weight decay, when on, is Keras's
    decoupled decay applied first, $\theta \leftarrow \theta - \eta_t
    \lambda\theta_{t-1}$, and $\lVert\theta\rVert$ is the norm after it.
    Two slots: 8 bytes of state per parameter.

    Matches `keras.optimizers.Lamb` step for step, with the same arguments
    and defaults. How the other LAMBs differ:

    - The paper (You et al. 2020, Algorithm 2) puts the decay inside the
      trust ratio, $\theta_t = \theta - \eta_t
      \frac{\phi(\lVert\theta\rVert)}{\lVert r_t + \lambda\theta\rVert}
      (r_t + \lambda\theta)$: the decay is rescaled with the step. Keras
      decays by $\eta_t\lambda\theta$ outside it, so the same $\lambda$
      decays far less here when $\rho_t \gg 1$ and more when $\rho_t \ll 1$;
      with `weight_decay=None` the two agree (with $\phi$ the identity).
    - `optax.lamb` follows the paper ($\lambda$ inside the ratio, masked
      by `mask`), with $\epsilon = 10^{-6}$ by default. Measured on the
      test problem (learning rate 0.01, 30 steps, `eps=1e-7`): without
      decay it gives these numbers to 7.7e-8 of the weights' scale; with
      $\lambda = 0.1$ the two differ by 5.2e-2.
    - `pytorch_optimizer.Lamb` (4.1.0) does not bias-correct $v$, divides
      the step (after the trust ratio) by $1-\beta_1^t$, so its first
      steps are up to $1/(1-\beta_1)$ times longer (measured: 10x at
      step 1, 5x at step 2, 1.1x at step 30), clips
      $\lVert\theta\rVert$ at 10, adds $\epsilon = 10^{-6}$ to
      $\lVert r_t\rVert$, and decays like Keras (decoupled, outside).

    Args:
        learning_rate: Float, schedule or callable ($\eta_t$). Defaults to
            `0.001`.
        beta_1: $\beta_1$ in `[0, 1)`. Defaults to `0.9`.
        beta_2: $\beta_2$ in `[0, 1)`. Defaults to `0.999`.
        epsilon: $\epsilon > 0$, added to the bias-corrected
            $\sqrt{\hat v_t}$. Defaults to `1e-7`.

    References:
        - You et al., 2020. Large batch optimization for deep learning:
          training BERT in 76 minutes. ICLR.
          https://arxiv.org/abs/1904.00962
    """

    hyperparameters = {
        "beta_1": fraction(0.9),
        "beta_2": fraction(0.999),
        "epsilon": positive(1e-7),
    }
    slots = ("momentum", "velocity")
    keras_equivalent = ("Lamb", {})

    @staticmethod
    def update_rule(grad, param, slots, hp):
        b1_power = ops.power(hp.cast(hp.beta_1), hp.step)
        b2_power = ops.power(hp.cast(hp.beta_2), hp.step)
        m = slots["momentum"] + (grad - slots["momentum"]) * hp.cast(
            hp.one_minus("beta_1")
        )
        v = slots["velocity"] + (ops.square(grad) - slots["velocity"]) * (
            hp.cast(hp.one_minus("beta_2"))
        )
        update = (m / (1.0 - b1_power)) / (
            ops.sqrt(v / (1.0 - b2_power)) + hp.cast(hp.epsilon)
        )
        w_norm = ops.sqrt(ops.sum(ops.power(param, 2)))
        u_norm = ops.sqrt(ops.sum(ops.power(update, 2)))
        ratio = ops.where(
            w_norm > 0, ops.where(u_norm > 0, w_norm / u_norm, 1.0), 1.0
        )
        return param - ratio * hp.lr * update, {"momentum": m, "velocity": v}
