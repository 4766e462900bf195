"""Engine defaults that the CLI declares its options with, kept free of torch so that
`srcli --help` and shell completion stay fast. (Names users type, such as devices and
precisions, are in srcli.vocabulary.)"""

from __future__ import annotations

#: Default overlap between tiles, in LR pixels (measured: see tests/test_tiling.py and README).
DEFAULT_OVERLAP = 16
