#!/bin/sh
# update.sh brings the background-blur runtime into web/static/vendor/selfie-segmentation/:
# the MediaPipe Selfie Segmentation solution (npm @mediapipe/selfie_segmentation,
# Apache-2.0), pinned to one version and checked against the registry's integrity hash
# below before anything is copied. Only the files the client loads are kept:
#
#   selfie_segmentation.js                          the solution's loader (classic script)
#   selfie_segmentation_solution_simd_wasm_bin.js   Emscripten glue of the runtime
#   selfie_segmentation_solution_simd_wasm_bin.wasm the runtime (WebAssembly SIMD)
#   selfie_segmentation.binarypb                    the MediaPipe graph
#   selfie_segmentation_landscape.tflite            the model (landscape, 256x144 input)
#
# The non-SIMD runtime (another 5.6 MB) is left out: every browser Conclave supports has
# WebAssembly SIMD, and a browser without it gets the "blur unavailable" path (the camera
# stays off until the person decides). The package carries no LICENSE file, only
# "license": "Apache-2.0" in package.json; the script checks that field and puts the
# Apache License 2.0 text (Debian's /usr/share/common-licenses/Apache-2.0) beside the files as LICENSE.txt.
#
# To update: change VERSION and INTEGRITY (npm view @mediapipe/selfie_segmentation@V
# dist.integrity), run this script from anywhere, run the blur tests, commit the result.
set -eu

VERSION=0.1.1675465747
INTEGRITY=sha512-IxYxNhwE5VwOm52L1yoFWYLP7q9Pd+NJjzOC5tlepfvEGaY3o9hslhUrx9BgseqdfZtKSDtd/4NfCSMjNzQalA==
FILES="selfie_segmentation.js selfie_segmentation_solution_simd_wasm_bin.js selfie_segmentation_solution_simd_wasm_bin.wasm selfie_segmentation.binarypb selfie_segmentation_landscape.tflite"
LICENSE_TEXT=/usr/share/common-licenses/Apache-2.0

here=$(cd "$(dirname "$0")" && pwd)
dest="$here/../static/vendor/selfie-segmentation"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$work"
npm pack --silent "@mediapipe/selfie_segmentation@$VERSION" >/dev/null
tgz="mediapipe-selfie_segmentation-$VERSION.tgz"
got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
if [ "$got" != "$INTEGRITY" ]; then
	echo "update.sh: integrity mismatch for $tgz: got $got, want $INTEGRITY" >&2
	exit 1
fi
tar -xzf "$tgz"
grep -q '"license": *"Apache-2.0"' package/package.json || {
	echo "update.sh: package.json no longer says Apache-2.0; check the licence first" >&2
	exit 1
}

rm -rf "$dest"
mkdir -p "$dest"
for f in $FILES; do
	cp "package/$f" "$dest/$f"
	chmod 0644 "$dest/$f"
done
cp "$LICENSE_TEXT" "$dest/LICENSE.txt"
chmod 0644 "$dest/LICENSE.txt"
# What was vendored, for the reader of the directory (and for review of an update).
{
	echo "@mediapipe/selfie_segmentation $VERSION ($INTEGRITY), Apache-2.0."
	echo "Fetched and checked by web/vendor/update.sh. SHA-256 of each file:"
	(cd "$dest" && sha256sum $FILES LICENSE.txt)
} >"$dest/VERSION.txt"
echo "vendored @mediapipe/selfie_segmentation $VERSION into $dest"
