#!/usr/bin/python3
"""Whole training step and inference of moevit against the PyTorch-in-Python peer, back to back.

For each mode and precision, `rounds` interleaved pairs of runs (moevit bench, then the peer on
the same shapes); the table gives the median of each. The Fashion-MNIST backbone as the speed
issue fixes it: dim 192, 6 blocks, 3 heads, MLP 768, 49 tokens (patch 4), batch 128; E = 8,
k = 1, capacity factor 1.05, soft 8 x 6 slots.

  bench/compare_with_peer.py --moevit build/moevit --peer ../shared/peers/vitmoe_ref.py
"""
import argparse
import json
import statistics
import subprocess

MODES = {"dense": "dense", "topk": "topk", "priority": "bpr", "soft": "soft"}
SHAPE = ["--set", "model.dim=192", "--set", "model.mlp_dim=768", "--set", "model.heads=3",
         "--set", "model.stem=patch"]


def run_json(command):
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moevit", default="build/moevit")
    parser.add_argument("--peer", default="../shared/peers/vitmoe_ref.py")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--precisions", default="fp32,bf16")
    args = parser.parse_args()
    print("| mode | precision | moevit train img/s | peer train img/s | moevit / peer | "
          "moevit infer img/s | peer infer img/s | share of GEMM peak (train) |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for mode in args.modes.split(","):
        for precision in args.precisions.split(","):
            ours, peer = [], []
            for _ in range(args.rounds):
                ours.append(run_json([args.moevit, "bench", "--config", f"configs/fmnist-{mode}.yaml",
                                      *SHAPE, "--set", f"run.precision={precision}", "--batch",
                                      "128", "--steps", str(args.steps), "--json"]))
                peer.append(run_json(["/usr/bin/python3", args.peer, "bench", "--mode", MODES[mode],
                                      "--k", "1", "--cf", "1.05", "--steps", str(args.steps),
                                      "--amp", "1" if precision == "bf16" else "0"]))
            median = lambda runs, key: statistics.median(run[key] for run in runs)
            train, peer_train = median(ours, "train_img_s"), median(peer, "train_img_s")
            peak_key = f"gemm_peak_{precision}_gflop_s"
            print(f"| {mode} | {precision} | {train:.0f} | {peer_train:.0f} | "
                  f"{train / peer_train:.2f} | {median(ours, 'infer_img_s'):.0f} | "
                  f"{median(peer, 'infer_img_s'):.0f} | "
                  f"{100 * median(ours, 'train_fraction_of_peak'):.0f}% of "
                  f"{median(ours, peak_key):.0f} |", flush=True)
            for run in ours:
                print("<!-- moevit", json.dumps(run), "-->", flush=True)


if __name__ == "__main__":
    main()
