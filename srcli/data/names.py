"""Names of the benchmark sets srcli knows, without numpy or image I/O, so that the CLI can
complete `--dataset` cheaply. `srcli.data.benchmark` resolves them."""

from __future__ import annotations

#: Lower-case name -> folder name of each standard benchmark set.
KNOWN = {"set5": "Set5", "set14": "Set14", "bsd100": "BSD100", "urban100": "Urban100",
         "manga109": "Manga109"}
