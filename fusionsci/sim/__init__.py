"""Differentiable simulation: gradients through the classical solvers.

The solvers of :mod:`fusionsci.solve` and :mod:`fusionsci.numerics` are written in MindSpore
tensor code, so ``mindspore.grad`` passes through a whole rollout. This package adds what is
needed to use that at scale and for real tasks: checkpointed rollouts, implicit differentiation
of iterative elliptic solves, inverse problems and control, solver-in-the-loop hybrid models,
full-waveform inversion and a small differentiable particle module.
"""
