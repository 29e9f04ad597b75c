"""The equation library: one module per family, shared by every solver.

Every class is an :class:`Equation` (see :mod:`fusionsci.equations.base` for the term
vocabulary). :data:`EQUATIONS` maps registry names (``python -m fusionsci solve NAME``)
to classes; :func:`get_equation` builds one by name with parameter overrides.
"""
from __future__ import annotations

from .base import Equation
from .burgers import Burgers
from .heat import Heat, Heat2D
from .advection import Advection
from .kdv import KdV
from .kuramoto_sivashinsky import KuramotoSivashinsky
from .allen_cahn import AllenCahn
from .fisher_kpp import FisherKPP
from .gray_scott import GrayScott
from .navier_stokes import NavierStokes2D, KolmogorovFlow
from .wave import Wave
from .euler import Euler1D
from .elliptic import Poisson, Helmholtz, Darcy
from .navier_stokes_steady import SteadyNavierStokes2D
from .beam import EulerBernoulliBeam

#: other spellings accepted by :func:`get_equation`
ALIASES = {
    "kuramoto_sivashinsky": "ks",
    "kolmogorov_flow": "kolmogorov",
    "ns": "navier_stokes",
    "navier_stokes_2d": "navier_stokes",
    "heat2d": "heat_2d",
    "fisher": "fisher_kpp",
    "kovasznay": "navier_stokes_steady",
    "steady_navier_stokes": "navier_stokes_steady",
    "euler_bernoulli": "beam",
    "euler_bernoulli_beam": "beam",
}


def register(cls, name: str | None = None):
    """Add an equation class to :data:`EQUATIONS` under ``name`` (default ``cls.name``); returns
    ``cls``, so it also works as a class decorator for user-defined equations."""
    if not isinstance(cls, type):
        raise TypeError(f"register() needs an equation class, got {cls!r}")
    key = name or getattr(cls, "name", "")
    if not key:
        raise ValueError(f"{cls.__name__} has no registry name: set its class attribute `name`")
    EQUATIONS[key] = cls
    return cls


#: registry name -> class: every Equation subclass with a ``name`` imported above is listed,
#: so a new family needs one line (its import).
EQUATIONS: dict = {}
for _obj in list(globals().values()):
    if isinstance(_obj, type) and issubclass(_obj, Equation) and _obj.name:
        register(_obj)
del _obj


def _normalise(name: str) -> str:
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    return ALIASES.get(key, key)


def get_equation(name: str, **params) -> Equation:
    """The equation registered as ``name`` (case-insensitive; ``-`` and ``_`` alike; aliases such
    as ``kuramoto-sivashinsky``), built with parameter overrides ``params`` (and
    constructor options such as ``init=`` where a class has them).

    Raises ValueError naming the unknown equation and listing the known names, or naming an
    unknown parameter."""
    key = _normalise(name)
    if key not in EQUATIONS:
        raise ValueError(f"unknown equation {name!r}; known: {', '.join(sorted(EQUATIONS))}")
    return EQUATIONS[key](**params)


__all__ = ["Equation", "EQUATIONS", "ALIASES", "register", "get_equation", "Burgers", "Heat", "Heat2D", "Advection",
           "KdV", "KuramotoSivashinsky", "AllenCahn", "FisherKPP", "GrayScott", "NavierStokes2D",
           "KolmogorovFlow", "Wave", "Euler1D", "Poisson", "Helmholtz", "Darcy",
           "SteadyNavierStokes2D", "EulerBernoulliBeam"]
