#!/usr/bin/env bash
# Regenerates the seed corpora of the fuzz targets, fuzz/corpus/<target>/ (fuzz/README.md).
#   scripts/make-fuzz-seeds.sh            the seeds Python writes alone (scripts/fuzz_seeds.py)
#   scripts/make-fuzz-seeds.sh MOEVIT     and the checkpoint seeds, made with that binary
#                                         (e.g. build/moevit): a LibTorch archive is LibTorch's
#                                         to write
# Deterministic: the same bytes on every run (the checkpoints for a given LibTorch version: a
# fixed seed, one training step on one thread, relative paths in the config they keep). Files
# named other than valid-* and near-* (regress-*: inputs that once found a bug) are left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 scripts/fuzz_seeds.py .
[ $# -ge 1 ] || exit 0

moevit=$(realpath "$1")
checkpoints=$PWD/fuzz/corpus/checkpoint
idx=$PWD/fuzz/corpus/idx
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A dense ViT imported from the tiny timm safetensors seed: weights only, no optimizer.
"$moevit" import fuzz/corpus/safetensors/valid-timm-vit-tiny.safetensors \
  --out "$checkpoints/valid-dense-imported.pt"

# A top-k MoE ViT after one training step on the IDX seed's three 8×8 images, with AdamW's state
# and a moving average of the weights (load_model reads the average). Made inside the scratch
# folder with relative paths, as the checkpoint keeps its config and with it data.root.
cd "$work"
for split in train val; do
  "$moevit" prepare idx --images "$idx/valid-images-3x8x8.idx" --labels "$idx/valid-labels-3.idx" \
    --names a,b --out data --split "$split"
done
cat >tiny.yaml <<'YAML'
model:
  image_size: 8
  patch_size: 4
  channels: 1
  dim: 8
  depth: 2
  heads: 2
  mlp_dim: 16
  num_classes: 2
moe:
  router: topk
  num_experts: 4
  k: 1
  every: 2
data:
  root: data
  mean: [0.5]
  std: [0.5]
  workers: 1
optim:
  steps: 1
  batch_size: 2
  warmup_steps: 0
  ema_decay: 0.9
run:
  seed: 0
  threads: 1
  device: cpu
  log_every: 1
  output_dir: run
YAML
OMP_NUM_THREADS=1 "$moevit" train --config tiny.yaml
cp run/last.pt "$checkpoints/valid-moe-trained.pt"
ls -l "$checkpoints"
