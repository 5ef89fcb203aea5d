#!/usr/bin/env bash
# make demo: describe each shipped model configuration.
# (Data preparation, training, evaluation, classification and heatmaps join as they land.)
set -euo pipefail
moevit=$1
for config in configs/*.yaml; do
  "$moevit" info --config "$config"
done
