"""Shared pieces of the property-based tests (tests/test_fuzz_*.py)."""
from hypothesis import HealthCheck, settings

#: what bad input may end in: a clear error of one of these types, with a message
CLEAN = (ValueError, TypeError, OSError)


def fuzz_settings(max_examples: int):
    """Reproducible hypothesis settings (derandomized, no deadline: MindSpore compiles on first use)."""
    return settings(max_examples=max_examples, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def attempt(fn, *args, **kw):
    """``fn(*args, **kw)``, or None after a clean error (``CLEAN``, with a message); any other
    exception propagates and fails the test."""
    try:
        return fn(*args, **kw)
    except CLEAN as exc:
        assert str(exc), f"{type(exc).__name__} without a message"
        return None
