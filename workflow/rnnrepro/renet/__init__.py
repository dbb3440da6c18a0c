"""renet stage."""
