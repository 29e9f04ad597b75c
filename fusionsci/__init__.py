"""fusionsci: MindSpore-native AI+HPC scientific computing.

One equation object, several ways to solve it::

    import fusionsci as fs
    eq = fs.equations.Burgers()                       # u_t + u u_x = nu u_xx
    sol = fs.solve(eq, n=1024, t_end=1.0, dtype="float64")

Importing fusionsci applies the runtime policy (:mod:`fusionsci.runtime`): device
auto-detection (Ascend > GPU > CPU) and, on CPU, ``MS_DEV_HOST_BLOCKING_RUN=1`` unless the
user set it.
"""
__version__ = "0.1.0"

from . import runtime

runtime.state()

from . import equations  # noqa: E402
from .domain.grid import Grid  # noqa: E402
from .errors import DivergenceError, StabilityWarning  # noqa: E402
from .solve import Solver, Solution, solve  # noqa: E402

__all__ = ["runtime", "equations", "Grid", "Solver", "Solution", "solve", "DivergenceError", "StabilityWarning",
           "__version__"]
