#!/usr/bin/env bash
# Regenerates the embedded assets under assets/ from Debian packages (no internet needed):
#   assets/fashion/t10k-subset-{images-idx3,labels-idx1}-ubyte.gz  the first N (default 2000) Fashion-MNIST test items
#                                                                 (package dataset-fashion-mnist), byte-identical idx format
#   assets/backgrounds/*.jpg                                      natural photos from python3-skimage, long side 320 px
# The Fashion-scenes test split is generated from these files alone, so a fresh clone needs neither package.
# Usage: data-scripts/make-assets.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-2000}"
FM=/usr/share/datasets/fashion-mnist
SK=/usr/lib/python3/dist-packages/skimage/data
need=()
[ -f "$FM/t10k-images-idx3-ubyte.gz" ] || need+=(dataset-fashion-mnist)
[ -f "$SK/astronaut.png" ] || need+=(python3-skimage)
/usr/bin/python3 -c "import PIL" 2>/dev/null || need+=(python3-pil)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} (needs root)"; apt-get update -qq && apt-get install -y -qq "${need[@]}"
fi
mkdir -p assets/fashion assets/backgrounds
/usr/bin/python3 - "$N" "$FM" "$SK" <<'PY'
import gzip, struct, sys, os
from PIL import Image
n, fm, sk = int(sys.argv[1]), sys.argv[2], sys.argv[3]

def subset(src, dst, item_bytes):
    with gzip.open(src, 'rb') as f:
        magic = f.read(4); ndim = magic[3]
        dims = list(struct.unpack('>' + 'i' * ndim, f.read(4 * ndim)))
        if dims[0] < n: sys.exit(f'{src} has only {dims[0]} items')
        data = f.read(n * item_bytes)
    dims[0] = n
    # mtime=0: the same input gives byte-identical output
    with open(dst + '.tmp', 'wb') as raw, gzip.GzipFile(fileobj=raw, mode='wb', compresslevel=9, mtime=0) as g:
        g.write(magic + struct.pack('>' + 'i' * ndim, *dims) + data)
    os.replace(dst + '.tmp', dst)

subset(f'{fm}/t10k-images-idx3-ubyte.gz', 'assets/fashion/t10k-subset-images-idx3-ubyte.gz', 28 * 28)
subset(f'{fm}/t10k-labels-idx1-ubyte.gz', 'assets/fashion/t10k-subset-labels-idx1-ubyte.gz', 1)

photos = ['astronaut.png', 'chelsea.png', 'coffee.png', 'rocket.jpg', 'motorcycle_left.png', 'ihc.png',
          'brick.png', 'grass.png', 'gravel.png']
for p in photos:
    im = Image.open(f'{sk}/{p}').convert('RGB')
    s = 320 / max(im.size)
    im = im.resize((round(im.size[0] * s), round(im.size[1] * s)), Image.LANCZOS)
    out = 'assets/backgrounds/' + os.path.splitext(p)[0] + '.jpg'
    im.save(out + '.tmp', 'JPEG', quality=85, optimize=True)
    os.replace(out + '.tmp', out)
print('wrote assets/fashion and assets/backgrounds')
PY
du -sh assets/fashion assets/backgrounds
