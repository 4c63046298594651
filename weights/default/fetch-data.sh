#!/usr/bin/env bash
# Fetches the pinned training data of Daguerre's default model from the npm registry
# (through npm itself), verifies each tarball's sha512 integrity and unpacks it.
#
#   weights/default/fetch-data.sh [DATA_DIR]     (default: weights/default/data)
#
# Result (see weights/default/DATA.md):
#   DATA_DIR/emoji-datasource-twitter/   emoji.json, img/twitter/64/*.png   (Twemoji, CC-BY-4.0)
#   DATA_DIR/emoji-datasource-google/    emoji.json, img/google/64/*.png    (Noto Emoji, Apache-2.0)
#   DATA_DIR/iconify-twemoji/            chars.json, icons.json             (emoji names)
#
# Idempotent: a package whose tarball is present and verified and whose folder is unpacked
# (marked by .integrity) is left alone. The images are never committed (DATA_DIR is ignored).
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
data_dir="${1:-$script_dir/data}"
tarball_dir="$data_dir/tarballs"

# folder name | npm package spec | tarball file name that `npm pack` writes | sha512 integrity
packages=(
  "emoji-datasource-twitter|emoji-datasource-twitter@16.0.0|emoji-datasource-twitter-16.0.0.tgz|sha512-7F+uCuHH+7Qnrc15P5tnbvKkg9E6tlzi4MnT2uW1RlN4pLYTza6cP/dstIfSDMtpjFLWuZewWg8jBbuL2eyELQ=="
  "emoji-datasource-google|emoji-datasource-google@16.0.0|emoji-datasource-google-16.0.0.tgz|sha512-ZRexfzs7MVoLnmzZmNsO4TKhnAJp5D++Vm6PpUpH/jEQQlemp3l88CjZ+DoZ2faM9R4QxZkOPJCoT8DlPhfQ3A=="
  "iconify-twemoji|@iconify-json/twemoji@1.2.5|iconify-json-twemoji-1.2.5.tgz|sha512-uKpuIEV0v6K5BW3Mjdyl+XKFVAbbcPxAgifKvEMtZoUZB5+YiY5zaMm2uNNCxyXzAWU9yNLlj41WU6/mvgALsw=="
)

# Prints the npm-style integrity string ("sha512-" + base64 digest) of a file.
integrity_of() {
  printf 'sha512-%s' "$(openssl dgst -sha512 -binary "$1" | openssl base64 -A)"
}

mkdir -p "$tarball_dir"
for entry in "${packages[@]}"; do
  IFS='|' read -r folder spec tarball expected <<<"$entry"
  target="$data_dir/$folder"
  archive="$tarball_dir/$tarball"

  if [[ -f "$target/.integrity" && "$(cat "$target/.integrity")" == "$expected" ]]; then
    echo "$spec: present ($target)"
    continue
  fi

  if [[ ! -f "$archive" || "$(integrity_of "$archive")" != "$expected" ]]; then
    rm -f "$archive"
    echo "$spec: downloading with npm pack"
    (cd "$tarball_dir" && npm pack "$spec" --silent >/dev/null)
    if [[ ! -f "$archive" ]]; then
      echo "error: npm pack $spec did not write $archive" >&2
      exit 1
    fi
  fi

  actual="$(integrity_of "$archive")"
  if [[ "$actual" != "$expected" ]]; then
    echo "error: integrity mismatch for $archive" >&2
    echo "  expected $expected" >&2
    echo "  actual   $actual" >&2
    rm -f "$archive"
    exit 1
  fi

  echo "$spec: verified, unpacking into $target"
  rm -rf "$target" "$target.partial"
  mkdir -p "$target.partial"
  tar -xzf "$archive" -C "$target.partial" --strip-components=1
  printf '%s' "$expected" >"$target.partial/.integrity"
  mv "$target.partial" "$target"
done
echo "data ready in $data_dir"
