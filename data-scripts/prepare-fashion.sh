#!/usr/bin/env bash
# Makes the full Fashion-MNIST (60k train / 10k test, Debian package dataset-fashion-mnist) available: the train and
# val splits of the Fashion scenes draw their items from it. The test split needs only the embedded assets/.
# Set XAILAB_FASHION_MNIST to use a copy elsewhere (a folder with the four *-ubyte.gz files).
set -euo pipefail
DIR="${XAILAB_FASHION_MNIST:-/usr/share/datasets/fashion-mnist}"
if [ -f "$DIR/train-images-idx3-ubyte.gz" ] && [ -f "$DIR/train-labels-idx1-ubyte.gz" ]; then
  echo "Fashion-MNIST present in $DIR"; exit 0
fi
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq dataset-fashion-mnist
ls -l /usr/share/datasets/fashion-mnist/
