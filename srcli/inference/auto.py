"""`--degradation auto`: pick the weights family for one input from its measurements.

The rule (thresholds measured by scripts/selector_table.py, see docs/degradation.md):

1. What the input *wants*:
   - noise σ ≥ STRONG_NOISE: `dn` (trained on σ 30 noise);
   - a JPEG file with quality ≤ MAX_JPEG_QUALITY, pixels on a JPEG lattice of such a
     quality (grid score ≥ GRID: a PNG re-saved from a JPEG), noise σ ≥ MILD_NOISE or colour
     noise σ ≥ COLOUR_NOISE: `real` (blur + noise + JPEG, σ ≤ 12, quality 35-95);
   - otherwise `bi` (a clean downscale). `bd` is never chosen: blur alone is not measured
     reliably, so BD weights stay a forced choice (`--degradation bd`).
2. What the model has at that scale (the manifest): the wanted family when it exists, else
   the first available of its fallbacks: dn -> real -> bi; real -> dn only when the noise is
   at least FALLBACK_DN_NOISE (DN weights smear detail on a merely compressed photo) -> bi.
   BI weights exist for every model, so bi ends every chain.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from srcli.imaging.estimate import Measurement
from srcli.vocabulary import split_ensemble

STRONG_NOISE = 20.0
MILD_NOISE = 9.0
FALLBACK_DN_NOISE = 12.0
MAX_JPEG_QUALITY = 95
# Grid score on val (scripts/selector_table.py): at most 0.00 without a JPEG, at least 0.53
# for a q 90 re-save; the threshold sits mid-gap.
GRID = 0.3
# Colour noise on val: clean downscales read at most 0.65, σ 5 colour noise at least 4.48;
# set high in that gap because colourful fur reads more than val's photos (Set14's baboon ×2
# reads 2.69, the most of the clean benchmark inputs).
COLOUR_NOISE = 3.5


@dataclass(frozen=True)
class Choice:
    degradation: str  # the family used
    wanted: str  # the family the measurements asked for
    why: str  # short reason, e.g. "JPEG q≈38, noise σ≈3.1"


def wanted_family(m: Measurement) -> str:
    if m.noise_sigma >= STRONG_NOISE:
        return "dn"
    compressed = (m.jpeg_quality is not None and m.jpeg_quality <= MAX_JPEG_QUALITY) or \
        (m.grid_quality is not None and m.grid_quality <= MAX_JPEG_QUALITY
         and m.grid_score >= GRID)
    noisy = m.noise_sigma >= MILD_NOISE or m.chroma_noise >= COLOUR_NOISE
    return "real" if compressed or noisy else "bi"


def describe(m: Measurement) -> str:
    """`JPEG q≈38, noise σ≈3.1` (a decoded JPEG's lattice and colour noise when found)."""
    parts = []
    if m.jpeg_quality is not None:
        parts.append(f"JPEG q{'=' if m.jpeg_exact else '≈'}{m.jpeg_quality}")
    elif m.grid_quality is not None and m.grid_score >= GRID:
        parts.append(f"decoded JPEG q≈{m.grid_quality}")
    parts.append(f"noise σ≈{m.noise_sigma:.1f}")
    if m.chroma_noise >= COLOUR_NOISE:
        parts.append(f"colour noise σ≈{m.chroma_noise:.1f}")
    return ", ".join(parts)


def choose(m: Measurement, available: Collection[str]) -> Choice:
    """The family to use given the families with weights (`available` includes "bi")."""
    want = wanted_family(m)
    chain = {"dn": ["dn", "real", "bi"], "real": ["real", "bi"], "bi": ["bi"]}[want]
    if want == "real" and m.noise_sigma >= FALLBACK_DN_NOISE:
        chain = ["real", "dn", "bi"]
    pick = next((d for d in chain if d in available), "bi")
    return Choice(pick, want, describe(m))


def available_families(model: str, scale: int) -> set[str]:
    """Degradations with weights in the manifest for `model` at `scale` (bi always: also
    the fallback for models whose BI weights come from elsewhere)."""
    from srcli.weights import load_manifest

    key = split_ensemble(model.lower())[0]
    return {"bi"} | {e.degradation for e in load_manifest().for_model(key) if e.scale == scale}
