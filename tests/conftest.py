"""Shared test set-up: float64 verification on the CPU runtime policy of fusionsci."""
import os

os.environ.setdefault("FUSIONSCI_DEVICE", "cpu")

import numpy as np
import pytest

import fusionsci.runtime as rt

rt.configure()


def measured_orders(hs, errors):
    """Convergence orders ``log(e_i/e_{i+1}) / log(h_i/h_{i+1})`` between successive refinements."""
    hs, errors = np.asarray(hs, float), np.asarray(errors, float)
    return np.log(errors[:-1] / errors[1:]) / np.log(hs[:-1] / hs[1:])


@pytest.fixture
def f64():
    return "float64"
