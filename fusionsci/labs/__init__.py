"""Course labs: the answer checks that the notebooks in ``notebooks/labs/`` import.

Each lab notebook asks students to write small functions or values; after each exercise a
check from :mod:`fusionsci.labs.checks` compares the answer with fusionsci's own references
(exact solutions, the library's operators and solvers, fitted convergence orders) and either
prints a one-line confirmation or raises :class:`~fusionsci.labs.checks.LabCheckError` saying
in plain words what is wrong.
"""
from .checks import LabCheckError

__all__ = ["LabCheckError", "checks"]
