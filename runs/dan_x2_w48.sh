#!/usr/bin/env bash
# Pilot: the ×2 DAN widened from 32 to 48 channels (--init-grow embeds the finished second
# cycle's weights, so it starts at exactly their quality), then a short cosine cycle.
# Question it answers: does a wider model gain faster per CPU-hour than another 32-channel
# cycle? Resumes automatically from runs/dan_x2_w48 when a checkpoint exists.
cd "$(dirname "$0")/.." || exit 1
export SRCLI_DATA=../shared/datasets/benchmark OMP_NUM_THREADS=1
exec python -m srcli train --model dan --scale 2 \
  --set n_feats=48 --set n_blocks=8 --set distance=3 --set reduction=8 --set image_skip=bicubic \
  --data ../shared/datasets/train --patch 32 --batch 16 \
  --iters 3000 --lr 2e-4 --lr-schedule cosine --warmup 200 --ema 0.999 \
  --val set5 --val-every 500 --ckpt-every 500 --keep 2 --log-every 100 \
  --threads 1 --seed 2 --out runs/dan_x2_w48 --resume auto \
  --init-from runs/dan_x2_c2/ckpt_00010000.pt --init-grow
