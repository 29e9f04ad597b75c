"""A small differentiable molecular-dynamics module.

* :mod:`.space`: periodic boxes (minimum image, wrapping) and free space, as pure functions;
* :mod:`.potentials`: Lennard-Jones (cut-and-shift or smoothly switched) and harmonic springs,
  total energies and virials over all pairs or a neighbour list, forces ``-grad E`` by
  autodiff;
* :mod:`.neighbors`: fixed-capacity neighbour lists with an overflow flag and a skin test;
* :mod:`.integrators`: velocity Verlet (NVE) and Langevin BAOAB as ``(init_fn, apply_fn)``, and the
  float64-exact gradient of a BAOAB rollout by its discrete adjoint;
* :mod:`.thermo`: kinetic energy, temperature, virial pressure, g(r).

Everything runs in float32 or float64 (``dtype``) on MindSpore tensors; parameters
(``sigma``, ``epsilon``, ``k``, ``r0``) are tensors, so ``mindspore.grad`` gives their
gradients through energies, pressures and whole simulations (for a Langevin rollout in
float64, :func:`.integrators.baoab_value_and_grad`).
"""
from . import integrators, neighbors, potentials, space, thermo
from .integrators import MDState, baoab_steps, baoab_value_and_grad, langevin, nve_steps, velocity_verlet
from .neighbors import NeighborList
from .potentials import (Potential, as_param, bond_potential, forces, harmonic, lennard_jones,
                         lennard_jones_potential, pair_potential)
from .space import Space, free, periodic
from .thermo import kinetic_energy, pressure, rdf_histogram, rdf_smooth, temperature

__all__ = ["space", "potentials", "neighbors", "integrators", "thermo", "Space", "periodic", "free",
           "Potential", "as_param", "lennard_jones", "harmonic", "pair_potential", "lennard_jones_potential",
           "bond_potential", "forces", "NeighborList", "MDState", "velocity_verlet", "langevin", "nve_steps",
           "baoab_steps", "baoab_value_and_grad", "kinetic_energy", "temperature", "pressure", "rdf_histogram",
           "rdf_smooth"]
