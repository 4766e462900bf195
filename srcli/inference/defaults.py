"""Engine defaults that the CLI declares its options with, kept free of torch so that
`srcli --help` and shell completion stay fast. `srcli.inference.engine` re-exports them."""

from __future__ import annotations

import re

#: Default overlap between tiles, in LR pixels (measured: see tests/test_tiling.py and README).
DEFAULT_OVERLAP = 16
#: Accepted `--device` values.
DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
