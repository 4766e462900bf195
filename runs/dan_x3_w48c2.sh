#!/usr/bin/env bash
# ×3 DAN, 48 channels: a second cosine cycle (warm restart, lr 2e-4) from the bundled
# 48-channel checkpoint (runs/dan_x3_w48, it 6000). Started in session 5; resumes
# automatically from runs/dan_x3_w48c2 when a checkpoint exists (docs/training.md).
# LR patches of 48 instead of 32, batch 8 instead of 16 (12 % more pixels per step): the
# receptive radius is 68 LR px, so in a 32-px patch every output pixel sees zero padding.
# At x3 this skips the 17 training images under 144 px (all from T91).
cd "$(dirname "$0")/.." || exit 1
export SRCLI_DATA=../shared/datasets/benchmark OMP_NUM_THREADS=1
exec python -m srcli train --model dan --scale 3 \
  --set n_feats=48 --set n_blocks=8 --set distance=3 --set reduction=8 --set image_skip=bicubic \
  --data ../shared/datasets/train --patch 48 --batch 8 \
  --iters 2000 --lr 2e-4 --lr-schedule cosine --warmup 200 --ema 0.999 \
  --val set5 --val-every 500 --ckpt-every 500 --keep 2 --log-every 100 \
  --threads 1 --channels-last --seed 8 --out runs/dan_x3_w48c2 --resume auto \
  --init-from runs/dan_x3_w48/ckpt_00006000.pt
