"""NovoGrad: layer-wise normalized momentum SGD, `"zoo_novograd"`."""

from keras import ops

from keras_optim_zoo.core import (
    Hyper,
    Slot,
    ZooOptimizer,
    fraction,
    positive,
    register,
)


@register("zoo_novograd")
class NovoGrad(ZooOptimizer):
    r"""NovoGrad: SGD with layer-wise gradient normalization and momentum.

    The second moment is one scalar per variable (layer), the moving
    average of the squared gradient norm, and the first step initializes
    both moments instead of averaging with zero:

    $$ v_1 = \lVert g_1 \rVert^2, \qquad
       v_t = \beta_2 v_{t-1} + (1-\beta_2) \lVert g_t \rVert^2 $$
    $$ u_t = \frac{g_t}{\sqrt{v_t + \epsilon}} + d\,\theta_{t-1}, \qquad
       m_1 = u_1, \qquad m_t = \beta_1 m_{t-1} + c\, u_t $$
    $$ \theta_t = \theta_{t-1} - \eta_t m_t $$

    with $c = 1 - \beta_1$ under `grad_averaging`, else $c = 1$, and $d$
    the `moment_weight_decay`, which enters the momentum (the paper's
    weight decay).

    This is the paper's algorithm (Ginsburg et al., algorithm 1) and the
    authors' code (NVIDIA OpenSeq2Seq, `NovoGrad2`) in where $\epsilon$
    goes: inside the square root. Checked on stored trajectories against
    `optax.novograd` 0.2.8, with `eps=0` and `eps_root` as $\epsilon$
    (which is this placement), and, for `grad_averaging`, against
    `pytorch_optimizer.NovoGrad` 4.1.0. Where peers differ:

    - $\epsilon$: tf-addons' `NovoGrad`, optax's `eps` and
      pytorch-optimizer divide by $\sqrt{v_t} + \epsilon$; the two agree
      to about $\epsilon/\sqrt{v_t}$ relative (measured: within the
      trajectory tolerance at $\epsilon = 10^{-7}$).
    - First step with `grad_averaging`: the authors' code builds the
      momentum from zero, so $m_1 = (1-\beta_1) u_1$; tf-addons and
      pytorch-optimizer set $m_1 = u_1$, as here, which is the paper's
      initialization $m_1 = g_1/\sqrt{v_1} + d\,\theta_0$. The authors
      detect the first step by $v = 0$; here it is the step count.
    - Weight decay: Keras's `weight_decay` is decoupled decay applied
      before the step, $\theta \leftarrow \theta(1-\eta_t\lambda)$, as for
      every zoo optimizer; it is not NovoGrad's. The paper's, tf-addons'
      and optax's `weight_decay` is `moment_weight_decay` here.
    - Defaults: tf-addons' ($\beta_1 = 0.9$, $\beta_2 = 0.999$,
      $\epsilon = 10^{-7}$); the authors use $\beta_1 = 0.95$,
      $\beta_2 = 0.98$, optax $\beta_2 = 0.25$.
    - tf-addons' `amsgrad` (a running maximum of $v_t$) is not offered: no
      reference implements it.

    State: one full-size moment per variable and one scalar, so
    `state_bytes_per_parameter` is `None`: it is $4 + 4/n$ bytes for a
    float32 variable of $n$ parameters, i.e. about 4.

    Args:
        learning_rate: Float, schedule or callable ($\eta_t$). Defaults to
            `0.001`.
        beta_1: $\beta_1$ in `[0, 1)`. Defaults to `0.9`.
        beta_2: $\beta_2$ in `[0, 1)`. Defaults to `0.999`.
        epsilon: $\epsilon > 0$. Defaults to `1e-7`.
        moment_weight_decay: $d \ge 0$, weight decay inside the momentum.
            Defaults to `0.0`.
        grad_averaging: Bool, fixed. Scale $u_t$ by $1-\beta_1$ after the
            first step. Defaults to `False`.

    References:
        - Ginsburg et al., 2019. Stochastic gradient methods with
          layer-wise adaptive moments for training of deep networks.
          arXiv:1905.11286.
    """

    hyperparameters = {
        "beta_1": fraction(0.9),
        "beta_2": fraction(0.999),
        "epsilon": positive(1e-7),
        "moment_weight_decay": Hyper(0.0, low=0.0),
        "grad_averaging": Hyper(False),
    }
    slots = ("momentum", Slot("velocity", shape=lambda shape: ()))
    reference = "optax.novograd 0.2.8 (pytorch_optimizer.NovoGrad 4.1.0)"
    state_bytes_per_parameter = None

    @staticmethod
    def update_rule(grad, param, slots, hp):
        first = hp.step == 1
        b1, b2 = hp.cast(hp.beta_1), hp.cast(hp.beta_2)
        norm2 = ops.sum(ops.square(grad))
        v = ops.where(
            first,
            norm2,
            slots["velocity"] * b2 + norm2 * hp.cast(hp.one_minus("beta_2")),
        )
        u = grad / ops.sqrt(v + hp.cast(hp.epsilon))
        u = u + hp.cast(hp.moment_weight_decay) * param
        if hp.grad_averaging:
            u = ops.where(first, u, u * hp.cast(hp.one_minus("beta_1")))
        m = ops.where(first, u, slots["momentum"] * b1 + u)
        return param - hp.lr * m, {"momentum": m, "velocity": v}
