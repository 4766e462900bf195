"""Inference: tiling, the device/precision engine, one-image pipeline, batch planning."""
