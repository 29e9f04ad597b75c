"""File input/output: PDEBench-compatible HDF5 solution files."""
from .hdf5 import SCHEMA, Solution, read_solution, write_solution

__all__ = ["SCHEMA", "Solution", "read_solution", "write_solution"]
