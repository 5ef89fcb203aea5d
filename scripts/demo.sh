#!/usr/bin/env bash
# make demo: prepare Fashion-MNIST, train a small Soft-MoE ViT for a few minutes, evaluate it,
# classify a few images and draw their patch-to-expert heatmaps.
#   scripts/demo.sh MOEVIT DATA_DIR RUN_DIR
set -euo pipefail
moevit=$1
data=$2
run=$3
steps=${DEMO_STEPS:-600}  # 600 steps of 64 images: about 2/3 of one epoch

"$moevit" info --config configs/fmnist-soft.yaml
"$moevit" prepare fashion-mnist --out "$data"

# bf16 where the CPU runs it natively (falls back to fp32 with a warning elsewhere). No
# augmentation or drop path in a run this short: they pay only over many epochs and cost ~5
# points in the first (docs/results.md).
"$moevit" train --config configs/fmnist-soft.yaml --out "$run" \
  --set data.root="$data" --set optim.steps="$steps" --set optim.warmup_epochs=0.1 \
  --set data.crop_padding=0 --set data.hflip=0 --set model.drop_path=0 \
  --set run.precision=bf16 --set run.log_every=50

"$moevit" eval --checkpoint "$run/best.pt" --data "$data"

# The first validation image of four classes.
examples=()
for class_dir in "$data"/val/*/; do
  images=("$class_dir"*.png)
  examples+=("${images[0]}")
done
"$moevit" classify --checkpoint "$run/best.pt" --top 3 "${examples[@]:0:4}"
"$moevit" heatmap --checkpoint "$run/best.pt" --out "$run/heatmaps" "${examples[@]:0:4}"
echo "demo: heatmaps in $run/heatmaps, training curves in $run/curves.png"
