#!/usr/bin/env bash
# Fetches the thesis' benchmark models into $XAILAB_DATA/models (default <repo>/data/models):
#   TorchRay's VGG16/ResNet50 fine-tuned on VOC07 and COCO14 (Caffe conversions, 20/80 classes, sigmoid)
#     → vgg16_voc.pth, resnet50_voc.pth, vgg16_coco.pth, resnet50_coco.pth
#   torchvision's ImageNet weights (1000 classes, softmax) → vgg16_imagenet.pth, resnet50_imagenet.pth
#   and the ImageNet class names → imagenet_classes.txt
# TorchRay's files are in PyTorch's legacy (pre-1.6) serialisation, which TorchSharp.PyBridge cannot read: a small
# Python step with YOUR PyTorch (pip install torch) re-saves every file with torch.save in the zip format. It changes
# nothing else: key renames, BGR→RGB and reshapes happen in XaiLab (XaiLab.Imaging.Models.PretrainedModels).
# Without PyTorch the originals stay in models/original/ and the script says so and exits non-zero.
# Usage: bash data-scripts/fetch-weights.sh [voc] [coco] [imagenet]    (default: all three groups)
SCRIPT_NAME=fetch-weights
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

TORCHRAY="https://dl.fbaipublicfiles.com/torchray"
TORCHVISION="https://download.pytorch.org/models"
CLASSES_URL="https://raw.githubusercontent.com/pytorch/hub/master/imagenet_classes.txt"
# files GROUP: one line per model: name, url, sha256 prefix (the hash in the published file name)
files() {
  case "$1" in
    voc)      echo "vgg16_voc $TORCHRAY/vgg16_voc-b050e8c3.pth.tar b050e8c3"
              echo "resnet50_voc $TORCHRAY/resnet50_voc-9ca920d6.pth.tar 9ca920d6" ;;
    coco)     echo "vgg16_coco $TORCHRAY/vgg16_coco-d82c8150.pth.tar d82c8150"
              echo "resnet50_coco $TORCHRAY/resnet50_coco-e99468c5.pth.tar e99468c5" ;;
    imagenet) echo "vgg16_imagenet $TORCHVISION/vgg16-397923af.pth 397923af"
              echo "resnet50_imagenet $TORCHVISION/resnet50-0676ba61.pth 0676ba61" ;;
  esac
}

groups=("$@"); [[ ${#groups[@]} -eq 0 ]] && groups=(voc coco imagenet)
for g in "${groups[@]}"; do [[ "$g" =~ ^(voc|coco|imagenet)$ ]] || die "unknown group '$g' (expected voc, coco or imagenet)"; done
need_tools curl sha256sum
MODELS="$DATA_ROOT/models"; ORIGINAL="$MODELS/original"

check_online "$(files "${groups[0]}" | head -n1 | awk '{print $2}')"

have_torch=0
PY="${PYTHON:-python3}"
if command -v "$PY" >/dev/null 2>&1 && "$PY" -c 'import torch' >/dev/null 2>&1; then have_torch=1; fi

convert() { # SRC DST: legacy or zip torch file → zip-format state dict
  "$PY" - "$1" "$2" <<'PYEOF'
import sys, torch
src, dst = sys.argv[1], sys.argv[2]
try:
    state = torch.load(src, map_location="cpu", weights_only=True)
except TypeError:  # PyTorch < 1.13 has no weights_only
    state = torch.load(src, map_location="cpu")
if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
    state = state["state_dict"]
bad = [k for k, v in state.items() if not torch.is_tensor(v)]
if bad:
    sys.exit(f"{src}: entries that are not tensors: {bad[:5]}")
torch.save({k: v.contiguous() for k, v in state.items()}, dst + ".part")
import os; os.replace(dst + ".part", dst)
print(f"converted {os.path.basename(src)} -> {os.path.basename(dst)} ({len(state)} tensors)")
PYEOF
}

missing_torch=()
for g in "${groups[@]}"; do
  while read -r name url prefix; do
    dst="$MODELS/$name.pth"
    if [[ -s "$dst" ]]; then echo "have $name.pth"; continue; fi
    orig="$ORIGINAL/$(basename "$url")"
    download "$url" "$orig"
    check_sha256_prefix "$orig" "$prefix"
    if [[ $have_torch -eq 1 ]]; then convert "$orig" "$dst" || die "conversion of $orig failed"
    else missing_torch+=("$orig"); fi
  done < <(files "$g")
done
if [[ " ${groups[*]} " == *" imagenet "* && ! -s "$MODELS/imagenet_classes.txt" ]]; then
  download "$CLASSES_URL" "$MODELS/imagenet_classes.txt"
  n=$(grep -c . "$MODELS/imagenet_classes.txt"); [[ "$n" -eq 1000 ]] || die "imagenet_classes.txt has $n names, expected 1000"
fi
if [[ ${#missing_torch[@]} -gt 0 ]]; then
  die "downloaded ${#missing_torch[@]} file(s) to $ORIGINAL but need PyTorch to convert them (pip install torch; or set PYTHON=/path/to/python) — rerun afterwards"
fi
echo "models in $MODELS: $(find "$MODELS" -maxdepth 1 -name '*.pth' -printf '%f ')"
