#!/usr/bin/env bash
# ×2 BI DAN, 10 DABs (48 channels): the bundled 8-DAB ×2 weights' checkpoint
# (runs/dan_x2_w48c2, it 8000) deepened with --init-grow, which appends two DABs that start as
# identities, so training starts from the parent's quality. Started in session 6; resumes
# automatically from runs/dan_x2_d10.
cd "$(dirname "$0")/.." || exit 1
export SRCLI_DATA=../shared/datasets/benchmark OMP_NUM_THREADS=1
exec python -m srcli train --model dan --scale 2 \
  --set n_feats=48 --set n_blocks=10 --set distance=3 --set reduction=8 --set image_skip=bicubic \
  --data ../shared/datasets/train --patch 32 --batch 16 \
  --iters 5000 --lr 2e-4 --lr-schedule cosine --warmup 200 --ema 0.999 \
  --val set5 --val-every 500 --ckpt-every 500 --keep 2 --log-every 100 \
  --threads 1 --channels-last --seed 11 --out runs/dan_x2_d10 --resume auto \
  --init-from runs/dan_x2_w48c2/ckpt_00008000.pt --init-grow
