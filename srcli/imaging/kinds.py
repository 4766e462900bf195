"""Degradation names, free of numpy and OpenCV so the manifest (and `srcli models`) can check
them cheaply. `srcli.imaging.degrade` implements them."""

from __future__ import annotations

#: bi, bd, dn: the literature's test-data recipes; real: srcli's photo-like training mix.
DEGRADATIONS = ("bi", "bd", "dn", "real")
