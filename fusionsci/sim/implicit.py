r"""Gradients through iterative elliptic solves by implicit differentiation (the adjoint method).

:func:`~fusionsci.numerics.elliptic.solve_darcy` solves :math:`A(a)\,u = f` (the 5-point
:math:`-\nabla\cdot(a\nabla u)`, zero Dirichlet boundary, symmetric positive definite) by
preconditioned CG. Differentiating the CG iterations themselves costs memory and time in
proportion to the iteration count and differentiates the *iteration*, not the solution. The
solution :math:`u(a, f) = A(a)^{-1} f` has the exact derivative, for a loss :math:`J(u)`:

.. math::
    A(a)^T \lambda = \partial J/\partial u \quad(\text{one more solve; } A^T = A),\qquad
    \frac{dJ}{df} = \lambda,\qquad
    \frac{dJ}{da} = -\frac{\partial}{\partial a}\big\langle \lambda,\ A(a)\,\bar u\big\rangle
    \Big|_{\bar u = u},

the last term being one vector-Jacobian product of the *operator* (not of the solver). So a
gradient costs one adjoint CG solve, independent of how many iterations the forward solve took,
and it is accurate to the solver tolerance.

:class:`DarcySolve` wraps this as an ``nn.Cell`` with a custom backward (``bprop``), so it
composes with ``mindspore.grad`` like any other op (PyNative mode: the solves loop in Python).
"""
from __future__ import annotations

import mindspore as ms
from mindspore import nn, ops

from ..domain.grid import Grid
from ..numerics import elliptic


def _interior(x):
    return x[..., 1:-1, 1:-1]


class DarcySolve(nn.Cell):
    r"""``u = DarcySolve(grid)(a, f)``: the solution of :math:`-\nabla\cdot(a\nabla u) = f`,
    ``u = 0`` on the boundary, with gradients by the adjoint method.

    Args:
        grid: a 2D node grid (:class:`~fusionsci.domain.grid.Grid` of kind ``'nodes'``).
        tol: relative residual tolerance of the forward and adjoint CG solves.
        maxiter: iteration cap of each solve (default: the number of unknowns).

    Inputs: nodal ``a (..., n0, n1)`` (positive) and nodal ``f (..., n0, n1)`` (boundary entries
    are ignored and get zero gradient), same dtype. Output: nodal ``u``, zero on the boundary.
    ``self.last_info`` holds the forward solve's iteration count and residual, and
    ``self.last_adjoint_info`` the adjoint's.
    """

    def __init__(self, grid: Grid, tol: float = 1e-10, maxiter: int | None = None):
        super().__init__()
        if not isinstance(grid, Grid) or grid.kind != "nodes" or grid.ndim != 2:
            raise ValueError(f"grid: DarcySolve needs a 2D Grid of kind 'nodes', got {grid!r}")
        self.grid, self.tol, self.maxiter = grid, float(tol), maxiter
        self.last_info = self.last_adjoint_info = None

    def _solve(self, a, rhs):
        u, info = elliptic.solve_darcy(a, rhs, self.grid, tol=self.tol, maxiter=self.maxiter)
        return u, info

    def construct(self, a, f):
        if tuple(f.shape[-2:]) != self.grid.shape:
            raise ValueError(f"f: expected nodal shape (..., {self.grid.shape[0]}, {self.grid.shape[1]}), "
                             f"got {tuple(f.shape)}")
        u, self.last_info = self._solve(ops.stop_gradient(a), ops.stop_gradient(f))
        return u

    def bprop(self, a, f, out, dout):
        # adjoint solve A lam = dJ/du (A symmetric); only interior entries of dout matter
        lam, self.last_adjoint_info = self._solve(ops.stop_gradient(a), _interior(dout))
        hx, hy = self.grid.spacing
        u_int = _interior(ops.stop_gradient(out))
        lam_int = _interior(lam)

        def pairing(coef):
            ax, ay = elliptic._face_coefficients(coef)
            return ops.sum(lam_int * elliptic._darcy_apply(u_int, ax, ay, 1.0 / hx ** 2, 1.0 / hy ** 2))
        da = -ms.grad(pairing)(a)
        # f's boundary entries are ignored by the solve: zero gradient there
        df = lam
        if f.ndim < lam.ndim:
            df = lam.sum(axis=tuple(range(lam.ndim - f.ndim)))
        if a.ndim < da.ndim:
            da = da.sum(axis=tuple(range(da.ndim - a.ndim)))
        return da, df
