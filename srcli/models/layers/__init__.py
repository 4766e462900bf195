"""Reusable layers: attention modules any host network can take by name, and common blocks."""
