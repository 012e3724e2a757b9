"""Independent float64 oracles of the zoo schedules, one step at a time.

Written from the formulas in the papers and in the libraries each schedule
claims to match, as plain Python with explicit branches and loops (no
`keras`, no code shared with the package), so that a mistake in the
vectorized `keras.ops` code shows up as a difference. Each function takes
the step and the schedule's constructor arguments, with its own defaults;
where a schedule takes schedules, it takes floats or callables
`step -> value`.

`REFERENCES` maps each `zoo_*` name to its oracle.
"""

import math


def _value(schedule, step):
    return schedule(step) if callable(schedule) else float(schedule)


def _lerp(a, b, f):
    return a + (b - a) * f


def _cos_lerp(a, b, f):
    return b + (a - b) * 0.5 * (1.0 + math.cos(math.pi * f))


def constant(step, value):
    return value


def linear(step, start, end, steps):
    return _lerp(start, end, min(step, steps) / steps)


def polynomial(
    step,
    initial_learning_rate,
    decay_steps,
    end_learning_rate=0.0001,
    power=1.0,
    cycle=False,
):
    if cycle:
        decay_steps = decay_steps * max(1, math.ceil(step / decay_steps))
    else:
        step = min(step, decay_steps)
    return (initial_learning_rate - end_learning_rate) * (
        1.0 - step / decay_steps
    ) ** power + end_learning_rate


def exponential(
    step, initial_learning_rate, decay_steps, decay_rate, staircase=False
):
    p = step // decay_steps if staircase else step / decay_steps
    return initial_learning_rate * decay_rate**p


def inverse_time(
    step, initial_learning_rate, decay_steps, decay_rate, staircase=False
):
    p = step // decay_steps if staircase else step / decay_steps
    return initial_learning_rate / (1.0 + decay_rate * p)


def step_decay(step, initial_learning_rate, step_size, gamma=0.1):
    return initial_learning_rate * gamma ** (step // step_size)


def multistep(step, initial_learning_rate, milestones, gamma=0.1):
    passed = sum(1 for m in milestones if step >= m)
    return initial_learning_rate * gamma**passed


def inverse_sqrt(step, peak_learning_rate, warmup_steps):
    n = step + 1
    if n < warmup_steps:
        return peak_learning_rate * n / warmup_steps
    return peak_learning_rate * math.sqrt(warmup_steps / n)


def noam(step, d_model, warmup_steps=4000, scale=1.0):
    # The paper's formula, steps counted from 1.
    n = step + 1
    return scale * d_model**-0.5 * min(n**-0.5, n * warmup_steps**-1.5)


def cosine(step, initial_learning_rate, decay_steps, alpha=0.0):
    f = min(step, decay_steps) / decay_steps
    floor = alpha * initial_learning_rate
    return _cos_lerp(initial_learning_rate, floor, f)


def warmup_cosine(
    step,
    peak_learning_rate,
    warmup_steps,
    decay_steps,
    init_value=0.0,
    end_value=0.0,
):
    if step < warmup_steps:
        return _lerp(init_value, peak_learning_rate, step / warmup_steps)
    length = decay_steps - warmup_steps
    f = min(step - warmup_steps, length) / length
    return _cos_lerp(peak_learning_rate, end_value, f)


def sgdr(
    step,
    initial_learning_rate,
    first_decay_steps,
    t_mul=2.0,
    m_mul=1.0,
    alpha=0.0,
    warmup_steps=0,
):
    # Walk the cycles one by one: start, length and index.
    start, length, cycle = 0.0, float(first_decay_steps), 0
    while step >= start + length:
        start += length
        length *= t_mul
        cycle += 1
    within = step - start
    floor = alpha * initial_learning_rate
    peak = floor + (initial_learning_rate - floor) * m_mul**cycle
    if within < warmup_steps:
        return _lerp(floor, peak, within / warmup_steps)
    f = (within - warmup_steps) / (length - warmup_steps)
    return _cos_lerp(peak, floor, f)


def wsd(
    step,
    peak_learning_rate,
    warmup_steps,
    stable_steps,
    decay_steps,
    decay="linear",
    init_value=0.0,
    end_value=0.0,
):
    if step < warmup_steps:
        return _lerp(init_value, peak_learning_rate, step / warmup_steps)
    if step < warmup_steps + stable_steps:
        return peak_learning_rate
    f = min((step - warmup_steps - stable_steps) / decay_steps, 1.0)
    shape = {
        "linear": 1.0 - f,
        "cosine": 0.5 * (1.0 + math.cos(math.pi * f)),
        "1-sqrt": 1.0 - math.sqrt(f),
    }[decay]
    return end_value + (peak_learning_rate - end_value) * shape


def _one_cycle(step, total_steps, pct_start, anneal, three_phase, levels):
    # torch.optim.lr_scheduler.OneCycleLR.get_lr, with the last phase
    # clamped at its end.
    if three_phase:
        ends = [
            float(pct_start * total_steps) - 1,
            float(2 * pct_start * total_steps) - 2,
            total_steps - 1,
        ]
    else:
        ends = [float(pct_start * total_steps) - 1, total_steps - 1]
    start = 0.0
    for i, end in enumerate(ends):
        if step <= end or i == len(ends) - 1:
            pct = min((step - start) / (end - start), 1.0)
            a, b = levels[i], levels[i + 1]
            if anneal == "cos":
                return b + (a - b) / 2.0 * (math.cos(math.pi * pct) + 1)
            return (b - a) * pct + a
        start = end


def one_cycle(
    step,
    max_learning_rate,
    total_steps,
    pct_start=0.3,
    anneal="cos",
    div_factor=25.0,
    final_div_factor=1e4,
    three_phase=False,
):
    initial = max_learning_rate / div_factor
    final = initial / final_div_factor
    levels = [initial, max_learning_rate]
    levels += [initial, final] if three_phase else [final]
    return _one_cycle(step, total_steps, pct_start, anneal, three_phase, levels)


def one_cycle_momentum(
    step,
    total_steps,
    base_momentum=0.85,
    max_momentum=0.95,
    pct_start=0.3,
    anneal="cos",
    three_phase=False,
):
    levels = [max_momentum, base_momentum, max_momentum]
    levels += [max_momentum] if three_phase else []
    return _one_cycle(step, total_steps, pct_start, anneal, three_phase, levels)


def cyclical(
    step,
    initial_learning_rate,
    maximal_learning_rate,
    step_size,
    mode="triangular",
    gamma=1.0,
    scale_mode=None,
):
    # tensorflow-addons' CyclicalLearningRate.__call__.
    if scale_mode is None:
        scale_mode = "iterations" if mode == "exp_range" else "cycle"
    cycle = math.floor(1 + step / (2 * step_size))
    x = abs(step / step_size - 2 * cycle + 1)
    m = cycle if scale_mode == "cycle" else step
    scale = {
        "triangular": lambda m: 1.0,
        "triangular2": lambda m: 0.5 ** (m - 1),  # 2.0 ** m overflows
        "exp_range": lambda m: gamma**m,
    }[mode](m)
    height = maximal_learning_rate - initial_learning_rate
    return initial_learning_rate + height * max(0.0, 1 - x) * scale


def piecewise(step, boundaries, values, interpolation="linear"):
    if step < boundaries[0]:
        return values[0]
    for i in range(len(boundaries) - 1):
        lo, hi = boundaries[i], boundaries[i + 1]
        if lo <= step < hi:
            f = (step - lo) / (hi - lo)
            if interpolation == "constant":
                return values[i]
            if interpolation == "cosine":
                return _cos_lerp(values[i], values[i + 1], f)
            return _lerp(values[i], values[i + 1], f)
    return values[-1]


def warmup(step, schedule, warmup_steps, init_value=0.0, offset=True):
    def inner(t):
        return _value(schedule, t - warmup_steps if offset else t)

    if step < warmup_steps:
        return _lerp(init_value, inner(warmup_steps), step / warmup_steps)
    return inner(step)


def join(step, schedules, boundaries):
    # optax.join_schedules.
    start, index = 0, 0
    for i, boundary in enumerate(boundaries):
        if step >= boundary:
            start, index = boundary, i + 1
    return _value(schedules[index], step - start)


def scale(step, schedule, factor):
    return factor * _value(schedule, step)


REFERENCES = {
    "zoo_constant": constant,
    "zoo_linear": linear,
    "zoo_polynomial": polynomial,
    "zoo_exponential": exponential,
    "zoo_inverse_time": inverse_time,
    "zoo_step_decay": step_decay,
    "zoo_multistep": multistep,
    "zoo_inverse_sqrt": inverse_sqrt,
    "zoo_noam": noam,
    "zoo_cosine": cosine,
    "zoo_warmup_cosine": warmup_cosine,
    "zoo_sgdr": sgdr,
    "zoo_wsd": wsd,
    "zoo_one_cycle": one_cycle,
    "zoo_one_cycle_momentum": one_cycle_momentum,
    "zoo_cyclical": cyclical,
    "zoo_piecewise": piecewise,
    "zoo_warmup": warmup,
    "zoo_join": join,
    "zoo_scale": scale,
    "zoo_adjustable_scale": scale,
}
