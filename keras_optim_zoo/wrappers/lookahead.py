"""Lookahead around any optimizer, `"zoo_lookahead"`."""

from keras import ops

from keras_optim_zoo.core import compile as xla
from keras_optim_zoo.core import transforms
from keras_optim_zoo.core.hyper import Hyper
from keras_optim_zoo.core.registry import register
from keras_optim_zoo.wrappers.base import ZooWrapper, per_variable


@register("zoo_lookahead")
class Lookahead(ZooWrapper):
    r"""Lookahead (Zhang et al., 2019) around any optimizer.

    The inner optimizer updates the fast weights $\theta$ at every step;
    every `sync_period` ($k$) of its updates, the slow weights $\phi$ move
    toward them and the fast weights restart from there:

    $$ \phi \leftarrow \phi + \alpha(\theta - \phi), \qquad
       \theta \leftarrow \phi \qquad (t \bmod k = 0) $$

    $\phi$ starts at the initial weights. $t$ is the inner optimizer's
    `iterations`, so with `gradient_accumulation_steps` $k$ counts applied
    updates, and a step skipped by `SkipNonFinite` inside does not count
    (synchronizing twice at one count changes nothing: $\theta = \phi$).
    The slow weights are the evaluation point: `SwapEvaluationWeights`
    (and `compare`) validate and save at $\phi$, as the authors recommend
    ("evaluation performance is typically better using the slow weights",
    michaelrzhang/lookahead, whose `_backup_and_load_cache` does the same
    swap); training continues from the fast weights.

    Matches `pytorch_optimizer.Lookahead` 4.1.0 around `torch.optim.SGD`
    and `torch.optim.RAdam`, and optax 0.2.8's `lookahead` around
    `optax.sgd` (momentum) and `optax.adam` (stored trajectories, with zoo
    and Keras inner optimizers). The arguments and defaults are
    tf-addons' `Lookahead` (`sync_period=6`, `slow_step_size=0.5`); the
    authors' code defaults to 5 and 0.8, pytorch-optimizer to 5 and 0.5.
    The inner optimizer's state (its momentum) is kept at
    synchronization, the authors' default
    (`pullback_momentum="none"`).

    Args:
        optimizer: The inner optimizer (instance, name or config).
        sync_period: Int $k \ge 1$. Defaults to `6`.
        slow_step_size: Float $\alpha$ in `[0, 1]`. Defaults to `0.5`.

    Example:

    ```python
    model.compile(optimizer=Lookahead("zoo_radam"), loss=...)
    ```
    """

    hyperparameters = {
        "sync_period": Hyper(6, low=1),
        "slow_step_size": Hyper(0.5, low=0.0, high=1.0, changeable=False),
    }
    has_own_evaluation_point = True

    def build_state(self, variables):
        self._slow = per_variable(self, variables, "slow", initial="param")

    def after_step(self, variables):
        slow = [self._slow[self._get_variable_index(v)] for v in variables]

        def synchronize():
            points = [
                transforms.lookahead(
                    var.value,
                    s.value,
                    ops.cast(self.slow_step_size, var.dtype),
                )
                for var, s in zip(variables, slow)
            ]
            return points + points

        # Only every k-th step reads and writes the weights.
        xla.assign_if(
            ops.equal(
                ops.mod(self.inner_optimizer.iterations, self.sync_period), 0
            ),
            synchronize,
            slow + list(variables),
        )

    def own_evaluation_values(self, variables):
        return [
            self._slow[self._get_variable_index(v)].value for v in variables
        ]
