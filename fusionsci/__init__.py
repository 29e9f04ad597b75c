"""fusionsci: MindSpore-native AI+HPC scientific computing."""
__version__ = "0.1.0"
