"""Domains: grids for the classical solvers; geometry and samplers for physics-informed networks."""
from .grid import Grid
from .geometry import (Geometry, Hyperrectangle, Interval, Rectangle, Box, Disk, Polygon, Union, Difference,
                       Intersection, TimeInterval, SpaceTime)
from .sampling import sample

__all__ = ["Grid", "Geometry", "Hyperrectangle", "Interval", "Rectangle", "Box", "Disk", "Polygon", "Union",
           "Difference", "Intersection", "TimeInterval", "SpaceTime", "sample"]
