#!/usr/bin/env bash
# Fetches PASCAL VOC 2007 test (images + annotations, 451 MB) from the official VOC site into
# $XAILAB_DATA/VOCdevkit/VOC2007 (default <repo>/data), the layout that the 'voc07-test' dataset reads:
# VOC2007/ImageSets/Main/test.txt, VOC2007/Annotations/*.xml, VOC2007/JPEGImages/*.jpg.
# Usage: bash data-scripts/fetch-voc07.sh      (needs curl and tar; exits non-zero with one line when offline)
SCRIPT_NAME=fetch-voc07
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

URL="http://host.robots.ox.ac.uk/pascal/VOC/voc2007/VOCtest_06-Nov-2007.tar"
need_tools curl tar
if [[ -f "$DATA_ROOT/VOCdevkit/VOC2007/ImageSets/Main/test.txt" && -d "$DATA_ROOT/VOCdevkit/VOC2007/JPEGImages" ]]; then
  echo "VOC2007 test already in $DATA_ROOT/VOCdevkit"; exit 0
fi
check_online "$URL"
TAR="$DATA_ROOT/downloads/VOCtest_06-Nov-2007.tar"
download "$URL" "$TAR"
echo "unpacking into $DATA_ROOT"
tar -xf "$TAR" -C "$DATA_ROOT" || die "could not unpack $TAR (corrupt download? delete it and rerun)"
n=$(wc -l < "$DATA_ROOT/VOCdevkit/VOC2007/ImageSets/Main/test.txt")
[[ "$n" -eq 4952 ]] || die "unpacked, but test.txt lists $n images instead of 4952"
echo "VOC2007 test: $n images in $DATA_ROOT/VOCdevkit/VOC2007 (you may delete $TAR)"
