#!/usr/bin/env bash
# Regenerates tests/XaiLab.Tests/Fixtures/sift/chelsea-opencv-sift.csv: OpenCV's SIFT keypoints (Debian's
# python3-opencv, default parameters) on the 8-bit grey version of assets/photos/chelsea.png.
# The test SiftDetectorTests.AgreesWithOpenCvSift compares our detector against this file, so neither the tests
# nor notebook 04 need OpenCV at run time.
#
# The grey image is the fixed-point BT.601 luma of OpenCV's scalar BGR2GRAY code for 8-bit input,
#   gray = (4899·R + 9617·G + 1868·B + 2^13) >> 14,
# which the C# side recomputes from the same PNG (lossless, so both decoders give the same RGB bytes). (cv2.cvtColor's
# vectorised path rounds differently at a few pixels; the script prints how many. What matters is that both detectors
# get the same bytes.) The SHA-256 of the grey bytes goes into the CSV header; the test checks that its grey bytes
# have that hash, so the two detectors are guaranteed to see byte-identical input.
# Usage: data-scripts/make-sift-reference.sh   (installs python3-opencv if missing; needs root then)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! /usr/bin/python3 -c "import cv2" 2>/dev/null; then
  echo "installing python3-opencv (needs root)"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-opencv
fi
mkdir -p tests/XaiLab.Tests/Fixtures/sift
/usr/bin/python3 - assets/photos/chelsea.png tests/XaiLab.Tests/Fixtures/sift/chelsea-opencv-sift.csv <<'PY'
import hashlib, os, sys
import cv2, numpy as np
src, dst = sys.argv[1], sys.argv[2]
bgr = cv2.imread(src, cv2.IMREAD_COLOR)
if bgr is None: sys.exit(f'cannot read {src}')
b, g, r = (bgr[:, :, i].astype(np.int64) for i in range(3))
gray = ((4899 * r + 9617 * g + 1868 * b + (1 << 13)) >> 14).astype(np.uint8)
ref = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
print(f'integer luma vs cv2.cvtColor: {int((gray != ref).sum())} of {gray.size} pixels differ by ±1 (informational)')
h, w = gray.shape
digest = hashlib.sha256(np.ascontiguousarray(gray).tobytes()).hexdigest()
kps = cv2.SIFT_create().detect(gray, None)
with open(dst + '.tmp', 'w') as f:
    f.write(f'# OpenCV {cv2.__version__} SIFT_create() defaults on the 8-bit BGR2GRAY luma of {os.path.basename(src)}\n')
    f.write(f'# height={h} width={w} gray_sha256={digest}\n')
    f.write('x,y,size,angle,response,octave\n')
    for k in kps:
        f.write(f'{k.pt[0]!r},{k.pt[1]!r},{k.size!r},{k.angle!r},{k.response!r},{k.octave}\n')
os.replace(dst + '.tmp', dst)
print(f'{dst}: {len(kps)} keypoints (OpenCV {cv2.__version__}), {h}x{w}, gray sha256 {digest[:16]}…')
PY
