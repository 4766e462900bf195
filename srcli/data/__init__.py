"""Data for training (random patches) and evaluation (benchmark sets)."""
