#!/bin/sh
# Installs the build into a temporary DESTDIR, checks that every piece of the
# desktop integration landed where it belongs, and runs the installed
# diffuse-cli, in English and (through the installed catalogues) German and
# French.
# usage: check-install.sh BUILD_DIR BINDIR DATADIR LOCALEDIR  (absolute paths)
set -eu
build=$1 bindir=$2 datadir=$3 localedir=$4
app_id=org.example.Diffuse

destdir=$(mktemp -d)
trap 'rm -rf "$destdir"' EXIT
meson install -C "$build" --destdir "$destdir" --no-rebuild --quiet

status=0
expect_file () {
  if [ -f "$destdir$1" ]; then echo "ok: $1"
  else echo "missing: $1"; status=1; fi
}
expect_file "$bindir/diffuse"
expect_file "$bindir/diffuse-cli"
expect_file "$datadir/applications/$app_id.desktop"
expect_file "$datadir/metainfo/$app_id.metainfo.xml"
expect_file "$datadir/icons/hicolor/scalable/apps/$app_id.svg"
expect_file "$datadir/icons/hicolor/symbolic/apps/$app_id-symbolic.svg"
expect_file "$datadir/glib-2.0/schemas/$app_id.gschema.xml"
for lang in de fr; do
  expect_file "$localedir/$lang/LC_MESSAGES/diffuse.mo"
done

# The translations are merged into the desktop file and the metainfo.
expect_text () {
  if grep -q -F "$2" "$destdir$1"; then echo "ok: $1 has $2"
  else echo "$1 lacks $2"; status=1; fi
}
expect_text "$datadir/applications/$app_id.desktop" "Comment[de]="
expect_text "$datadir/applications/$app_id.desktop" "Comment[fr]="
expect_text "$datadir/metainfo/$app_id.metainfo.xml" 'xml:lang="de"'
expect_text "$datadir/metainfo/$app_id.metainfo.xml" 'xml:lang="fr"'

cli="$destdir$bindir/diffuse-cli"
# expect_output LANGUAGE TEXT: `diffuse-cli --help` in that language says TEXT.
# LANGUAGE is ignored in the C locale, hence C.UTF-8.
expect_output () {
  out=$(LC_ALL=C.UTF-8 LANGUAGE=$1 DIFFUSE_LOCALEDIR="$destdir$localedir" "$cli" --help) || {
    echo "diffuse-cli --help failed for LANGUAGE=$1"; status=1; return; }
  case "$out" in
    *"$2"*) echo "ok: LANGUAGE=$1 diffuse-cli --help says “$2”" ;;
    *) echo "LANGUAGE=$1 diffuse-cli --help lacks “$2”:"; echo "$out"; status=1 ;;
  esac
}
expect_output en "Usage:"
expect_output de "Aufruf:"
expect_output de "Vulkan-Geräte und ihre Fähigkeiten auflisten"
expect_output fr "Utilisation"

if "$cli" devices; then echo "ok: diffuse-cli devices"
else echo "diffuse-cli devices failed with status $?"; status=1; fi

exit $status
