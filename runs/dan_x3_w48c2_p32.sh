#!/usr/bin/env bash
# Control for runs/dan_x3_w48c2.sh: the same warm restart from runs/dan_x3_w48 (it 6000),
# seed and schedule, on the 32-px patches, batch 16, of every earlier run, to separate the
# patch-size effect from the restart's. Started at the end of session 5; resumes
# automatically from runs/dan_x3_w48c2_p32 when a checkpoint exists (docs/training.md).
cd "$(dirname "$0")/.." || exit 1
export SRCLI_DATA=../shared/datasets/benchmark OMP_NUM_THREADS=1
exec python -m srcli train --model dan --scale 3 \
  --set n_feats=48 --set n_blocks=8 --set distance=3 --set reduction=8 --set image_skip=bicubic \
  --data ../shared/datasets/train --patch 32 --batch 16 \
  --iters 2000 --lr 2e-4 --lr-schedule cosine --warmup 200 --ema 0.999 \
  --val set5 --val-every 500 --ckpt-every 500 --keep 2 --log-every 100 \
  --threads 1 --channels-last --seed 8 --out runs/dan_x3_w48c2_p32 --resume auto \
  --init-from runs/dan_x3_w48/ckpt_00006000.pt
