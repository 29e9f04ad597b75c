"""File input/output: PDEBench-compatible HDF5 solution files and data sets.

- :mod:`.hdf5`: solver output (``write_solution`` / ``read_solution``).
- :mod:`.pdebench`: PDEBench layouts (single-array, multi-field, Darcy, grouped): ``inspect``,
  ``read`` / ``PDEBenchFile`` (channels-first ``[n, C, Nt, *space]``), writers.
- :mod:`.stream`: ``StreamLoader``, mini-batches streamed from disk for operator training.
"""
from .hdf5 import SCHEMA, Solution, read_solution, write_solution
from .pdebench import (DataFileError, FileInfo, PDEBenchFile, inspect, read, write_darcy,
                       write_grouped, write_single_array)
from .stream import StreamLoader, split_ranges

__all__ = ["SCHEMA", "Solution", "read_solution", "write_solution",
           "DataFileError", "FileInfo", "PDEBenchFile", "inspect", "read", "write_darcy",
           "write_grouped", "write_single_array", "StreamLoader", "split_ranges"]
