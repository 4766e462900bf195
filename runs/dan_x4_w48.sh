#!/usr/bin/env bash
# ×4 DAN widened from 32 to 48 channels (--init-grow embeds the shipped ×4 second cycle's final 32-channel checkpoint (it 6000),
# so it starts at exactly its quality), then one cosine cycle. Same recipe as runs/dan_x2_w48.sh.
# Resumes automatically from runs/dan_x4_w48 when a checkpoint exists (docs/training.md).
cd "$(dirname "$0")/.." || exit 1
export SRCLI_DATA=../shared/datasets/benchmark OMP_NUM_THREADS=1
exec python -m srcli train --model dan --scale 4 \
  --set n_feats=48 --set n_blocks=8 --set distance=3 --set reduction=8 --set image_skip=bicubic \
  --data ../shared/datasets/train --patch 32 --batch 16 \
  --iters 4500 --lr 2e-4 --lr-schedule cosine --warmup 200 --ema 0.999 \
  --val set5 --val-every 500 --ckpt-every 500 --keep 2 --log-every 100 \
  --threads 1 --channels-last --seed 4 --out runs/dan_x4_w48 --resume auto \
  --init-from runs/dan_x4_c2/ckpt_00006000.pt --init-grow
