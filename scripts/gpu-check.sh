#!/usr/bin/env bash
# GPU check for a machine with an NVIDIA GPU: builds trainlab with cuda and wgpu, runs the GPU
# test set on the real device, and times one Fashion-MNIST CNN epoch and one Netflix K = 12 EM
# fit on cuda, wgpu and flex. Prints a table; meant to finish in under 8 minutes with the build.
#
# Needs: network access for the first cuda build (Burn 0.22.1's cuda backend downloads an LLVM
# bundle from GitHub in a build script), the NVIDIA driver (CUDA is loaded at run time, no
# toolkit), Vulkan for wgpu, the
# Fashion-MNIST IDX files in $FASHION (default /usr/share/datasets/fashion-mnist, Debian package
# dataset-fashion-mnist) and netflix_incomplete.txt in $NETFLIX (default data/netflix).
set -euo pipefail
cd "$(dirname "$0")/.."

FASHION="${FASHION:-/usr/share/datasets/fashion-mnist}"
NETFLIX="${NETFLIX:-data/netflix}"
OUT="${OUT:-$(mktemp -d)}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

echo "== build (cuda, wgpu, flex)"
cargo build --release --features wgpu,cuda --tests
bin=target/release/trainlab
"$bin" backends

echo "== GPU test set on cuda and wgpu"
TRAINLAB_GPU_BACKENDS=cuda,wgpu cargo test --release --features wgpu,cuda --test gpu_wgpu

# Reads a metric from a run's summary.json.
metric() {
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["metrics"][sys.argv[2]])' "$1" "$2"
}

wall() {
    python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["wall_seconds"], 2))' "$1"
}

echo "== timings"
rows=()
for backend in cuda wgpu flex; do
    run="$OUT/fashion-$backend"
    "$bin" train configs/digits/fashion-cnn.toml --backend "$backend" --out "$run" \
        --progress plain --set train.epochs=1 --set "data.dir=$FASHION" >/dev/null
    cnn="$(metric "$run/summary.json" train_images_per_second)"

    # wgpu has no reliable f64, so its EM runs in f32; cuda and flex run the course's f64.
    precision=f64
    if [ "$backend" = wgpu ]; then precision=f32; fi
    run="$OUT/netflix-$backend"
    "$bin" train configs/mixture/netflix-k12.toml --backend "$backend" --out "$run" \
        --progress plain --set 'train.seeds=[1]' --set "backend.precision=\"$precision\"" \
        --set "data.dir=$NETFLIX" >/dev/null
    em="$(metric "$run/summary.json" fit_seconds)"
    rows+=("$(printf '%-6s %14.0f %16.3f %5s' "$backend" "$cnn" "$em" "$precision")")
done

printf '%-6s %14s %16s %5s\n' backend "CNN train img/s" "K=12 EM fit (s)" "EM precision"
printf '%s\n' "${rows[@]}"
echo "run folders: $OUT"
