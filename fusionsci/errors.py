"""Exceptions and warnings shared across fusionsci."""
from __future__ import annotations


class DivergenceError(FloatingPointError):
    """A NaN or Inf appeared in a solver state or a training loss.

    Attributes: ``step`` (the first step whose result is not finite), ``t`` (the time it
    was reached, or ``None``), ``what`` (the field or loss term), and ``last_good``
    (the last finite state, when the caller keeps one).
    """

    def __init__(self, step: int, what: str, t: float | None = None, last_good=None):
        self.step, self.what, self.t, self.last_good = step, what, t, last_good
        when = f" (t = {t:.6g})" if t is not None else ""
        super().__init__(f"non-finite values in {what} at step {step}{when}")


class StabilityWarning(UserWarning):
    """A time step exceeds the estimated stability limit of an explicit scheme."""


def require_positive(name: str, value, integer: bool = False):
    """Return ``value`` if it is a positive (integer) number, else raise ValueError naming it."""
    import math
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    if integer:
        ok = ok and float(value).is_integer()
    if not ok:
        kind = "a positive integer" if integer else "a positive finite number"
        raise ValueError(f"{name}={value!r} must be {kind}")
    return int(value) if integer else float(value)
