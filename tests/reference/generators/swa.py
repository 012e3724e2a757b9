"""Reference trajectories of `zoo_swa`: `torch.optim.swa_utils`
(`AveragedModel` and `SWALR`) around `torch.optim.SGD`.

Run in the reference environment (torch; no Keras), from the repository
root:

    python -m tests.reference.generators.swa

Each case is stored twice: `<name>/weights` (the trained weights, which
`SWALR`'s rate drives) and `<name>/average` (the SWA point, `AveragedModel`'s
parameters; the current weights until the first snapshot). The snapshot
timing is the authors' (`timgaripov/swa` `train.py`): after update `t`
when `t >= start` and `(t - start) % period == 0`. `SWALR` is created when
the averaging phase begins, as its documentation's loop does, so that it
anneals from the rate in use then.
"""

from importlib.metadata import version

import numpy as np
import torch
from torch.optim.swa_utils import SWALR, AveragedModel

from tests.reference import trajectory_io

CHECKPOINTS = [1, 3, 5, 8, 12, 20, 30, 40]
STEPS = max(CHECKPOINTS)
SCRIPT = "tests/reference/generators/swa.py"
TOLERANCE = 5e-7
REASON = (
    "float32 round-off over 40 steps (SWALR recovers its starting rate "
    "from the current one at every step; the average is a lerp)"
)


class _Holder(torch.nn.Module):
    def __init__(self, params):
        super().__init__()
        self.ps = torch.nn.ParameterList(params)


class _SWALoop:
    """`step()` is one iteration of torch's SWA recipe."""

    def __init__(self, params, lr, momentum, swa):
        self.holder = _Holder(params)
        self.opt = torch.optim.SGD(params, lr=lr, momentum=momentum)
        self.average = AveragedModel(self.holder)
        self.swa = swa
        self.scheduler = None
        self.t = 0

    def step(self):
        swa = self.swa
        if swa.get("swa_learning_rate") and self.t == swa["start_averaging"]:
            self.scheduler = SWALR(
                self.opt,
                swa_lr=swa["swa_learning_rate"],
                anneal_epochs=swa.get("anneal_steps", 0),
                anneal_strategy=swa.get("anneal_strategy", "cos"),
            )
        self.opt.step()
        self.t += 1
        offset = self.t - swa["start_averaging"]
        if offset >= 0 and offset % swa["average_period"] == 0:
            self.average.update_parameters(self.holder)
        if self.scheduler is not None:
            self.scheduler.step()

    def averaged(self):
        # Before the first snapshot AveragedModel still holds its copy of
        # the initial weights; zoo_swa evaluates at the current ones then.
        if int(self.average.n_averaged) == 0:
            return [p.detach().numpy().copy() for p in self.holder.ps]
        return [p.detach().numpy().copy() for p in self.average.module.ps]


def main():
    # Momentum only where the rate is constant: torch's SGD keeps the rate
    # out of its velocity, Keras's (and zoo_momentum) inside, so the two
    # differ once SWALR changes the rate.
    cases = []
    for name, lr, momentum, swa in [
        (
            "constant_rate",
            0.05,
            0.9,
            {"start_averaging": 6, "average_period": 4},
        ),
        (
            "swa_lr_cos_anneal",
            0.08,
            0.0,
            {
                "start_averaging": 10,
                "average_period": 3,
                "swa_learning_rate": 0.02,
                "anneal_steps": 5,
            },
        ),
        (
            "swa_lr_linear_anneal",
            0.05,
            0.0,
            {
                "start_averaging": 4,
                "average_period": 1,
                "swa_learning_rate": 0.01,
                "anneal_steps": 8,
                "anneal_strategy": "linear",
            },
        ),
        (
            "swa_lr_at_once",
            0.1,
            0.0,
            {
                "start_averaging": 0,
                "average_period": 5,
                "swa_learning_rate": 0.03,
            },
        ),
    ]:

        def make(params, lr=lr, momentum=momentum, swa=swa):
            return _SWALoop(params, lr, momentum, swa)

        weights, averages = trajectory_io.torch_trajectory(
            make, STEPS, extra=lambda loop, params: loop.averaged()
        )
        averages[0] = weights[0]
        if momentum:
            spec = {"name": "zoo_momentum", "kwargs": {"momentum": momentum}}
        else:
            spec = {"name": "zoo_sgd", "kwargs": {}}
        kwargs = {**swa, "optimizer": spec}
        for point, trajectory in (("weights", weights), ("average", averages)):
            entry = trajectory_io.case(
                f"{name}/{point}", kwargs, lr, trajectory, CHECKPOINTS
            )
            entry["point"] = point
            cases.append(entry)
    trajectory_io.write(
        "zoo_swa",
        f"torch.optim.swa_utils.AveragedModel + SWALR {version('torch')}",
        cases,
        script=SCRIPT,
        versions={"torch": version("torch")},
        tolerance=TOLERANCE,
        tolerance_reason=REASON,
    )


if __name__ == "__main__":
    np.seterr(all="raise")
    main()
