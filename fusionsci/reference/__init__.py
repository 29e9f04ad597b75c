"""Reference (exact or high-accuracy) solutions in NumPy, for verification."""
