#!/usr/bin/env bash
# Fetches MS COCO 2014 val (images 6.2 GB + trainval annotations 241 MB) from cocodataset.org into
# $XAILAB_DATA/coco (default <repo>/data/coco), the layout that the 'coco14-val' dataset reads:
# coco/annotations/instances_val2014.json and coco/val2014/COCO_val2014_*.jpg.
# Usage: bash data-scripts/fetch-coco14.sh     (needs curl and unzip; exits non-zero with one line when offline)
SCRIPT_NAME=fetch-coco14
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

IMAGES="http://images.cocodataset.org/zips/val2014.zip"
ANNOTATIONS="http://images.cocodataset.org/annotations/annotations_trainval2014.zip"
need_tools curl unzip
DEST="$DATA_ROOT/coco"
if [[ -f "$DEST/annotations/instances_val2014.json" && -d "$DEST/val2014" ]]; then
  echo "COCO 2014 val already in $DEST"; exit 0
fi
check_online "$ANNOTATIONS"
download "$ANNOTATIONS" "$DATA_ROOT/downloads/annotations_trainval2014.zip"
download "$IMAGES" "$DATA_ROOT/downloads/val2014.zip"
mkdir -p "$DEST"
echo "unpacking into $DEST"
unzip -q -o "$DATA_ROOT/downloads/annotations_trainval2014.zip" 'annotations/instances_val2014.json' -d "$DEST" \
  || die "could not unpack the annotations (corrupt download? delete $DATA_ROOT/downloads/annotations_trainval2014.zip and rerun)"
unzip -q -o "$DATA_ROOT/downloads/val2014.zip" -d "$DEST" \
  || die "could not unpack the images (corrupt download? delete $DATA_ROOT/downloads/val2014.zip and rerun)"
n=$(find "$DEST/val2014" -name '*.jpg' | wc -l)
[[ "$n" -eq 40504 ]] || die "unpacked, but val2014 has $n images instead of 40504"
echo "COCO 2014 val: $n images in $DEST (you may delete $DATA_ROOT/downloads)"
