#!/usr/bin/env bash
# Shipped ×2 DAN (docs/training.md). Resumes automatically from runs/dan_x2 when a checkpoint exists.
# Session 2: cosine horizon cut from 40,000 to 8,000 iterations (resume keeps everything else)
# so the CPU time available ends on annealed weights; continue later with a new cycle.
cd "$(dirname "$0")/.." || exit 1
export SRCLI_DATA=../shared/datasets/benchmark OMP_NUM_THREADS=1
exec python -m srcli train --model dan --scale 2 \
  --set n_feats=32 --set n_blocks=8 --set distance=3 --set reduction=8 --set image_skip=bicubic \
  --data ../shared/datasets/train --patch 32 --batch 16 \
  --iters 8000 --lr 5e-4 --lr-schedule cosine --warmup 500 --ema 0.999 \
  --val set5 --val-every 1000 --ckpt-every 500 --keep 2 --log-every 100 \
  --threads 1 --seed 0 --out runs/dan_x2 --resume auto
