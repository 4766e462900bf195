#!/usr/bin/env bash
# ×4 DAN, second cosine cycle (warm restart) from the shipped ×4 run's final checkpoint (it 7500).
# Resumes automatically from runs/dan_x4_c2 when a checkpoint exists (docs/training.md).
cd "$(dirname "$0")/.." || exit 1
export SRCLI_DATA=../shared/datasets/benchmark OMP_NUM_THREADS=1
exec python -m srcli train --model dan --scale 4 \
  --set n_feats=32 --set n_blocks=8 --set distance=3 --set reduction=8 --set image_skip=bicubic \
  --data ../shared/datasets/train --patch 32 --batch 16 \
  --iters 6000 --lr 2e-4 --lr-schedule cosine --warmup 200 --ema 0.999 \
  --val set5 --val-every 1000 --ckpt-every 500 --keep 2 --log-every 100 \
  --threads 1 --channels-last --seed 1 --out runs/dan_x4_c2 --resume auto \
  --init-from runs/dan_x4/ckpt_00007500.pt
