"""Training: one config dataclass, a pure LR schedule, atomic checkpoints, a readable loop."""
