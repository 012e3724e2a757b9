"""Interpolation between given (step, value) points: `"zoo_piecewise"`."""

from keras import ops

from keras_optim_zoo.core.hyper import invalid
from keras_optim_zoo.core.registry import register
from keras_optim_zoo.schedules.base import (
    Choice,
    ListOf,
    ZooSchedule,
    ramp,
    rate,
    steps,
)


@register("zoo_piecewise")
class Piecewise(ZooSchedule):
    r"""Passes through the points `(boundaries[i], values[i])`.

    Between two points $(b_i, v_i)$ and $(b_{i+1}, v_{i+1})$, with
    $f = (t - b_i) / (b_{i+1} - b_i)$:

    $$ \eta_t = v_i + (v_{i+1} - v_i)\, f \;\;(\text{"linear"}), \qquad
       v_i + (v_{i+1} - v_i)\,\tfrac{1}{2}(1 - \cos \pi f)
       \;\;(\text{"cosine"}), \qquad v_i \;\;(\text{"constant"}). $$

    Before the first point it is $v_0$, from the last point on the last
    value. With `"constant"` each value holds from its own boundary (the
    step itself) until the next: `Piecewise([0, 30, 80], [1.0, 0.1, 0.01],
    "constant")` is `torch.optim.lr_scheduler.MultiStepLR` with milestones
    `[30, 80]`. Keras's `PiecewiseConstantDecay(boundaries, values)` (one
    more value than boundaries) switches one step later, after each
    boundary: it equals `"constant"` with points
    `[0] + [b + 1 for b in boundaries]`.

    Args:
        boundaries: Non-empty, strictly increasing list of ints >= 0, the
            steps of the points.
        values: List of floats >= 0, one per boundary.
        interpolation: `"linear"`, `"cosine"` or `"constant"`. Defaults to
            `"linear"`.
    """

    arguments = {
        "boundaries": ListOf(steps(), increasing=True),
        "values": ListOf(rate()),
        "interpolation": Choice("linear", ("linear", "cosine", "constant")),
    }

    def _check_arguments(self):
        if len(self.values) != len(self.boundaries):
            raise invalid(
                "values",
                self.values,
                f"a list of {len(self.boundaries)} floats >= 0, one per "
                "boundary",
            )

    def compute(self, step):
        points, values = self.boundaries, self.values
        result = ops.full_like(step, values[0])
        for i in range(len(points) - 1):
            if self.interpolation == "constant":
                segment = values[i]
            else:
                segment = ramp(
                    values[i],
                    values[i + 1],
                    (step - points[i]) / (points[i + 1] - points[i]),
                    self.interpolation,
                )
            result = ops.where(step >= points[i], segment, result)
        return ops.where(step >= points[-1], values[-1], result)
