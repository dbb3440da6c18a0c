"""increment stage."""
