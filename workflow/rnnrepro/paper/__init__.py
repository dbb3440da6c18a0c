"""paper stage."""
