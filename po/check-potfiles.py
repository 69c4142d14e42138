#!/usr/bin/env python3
"""Fails when POTFILES.in misses a source file with translatable strings,
or lists a file that does not exist.

Translatable means: a C file with _("…"), N_("…"), C_("…", "…"), NC_ or
Q_; a GtkBuilder file with translatable="yes"; and every desktop file,
AppStream metainfo and GSettings schema (their texts are always
extracted)."""

import os
import re
import sys

SCANNED_DIRS = ("app", "compute", "data")
C_MARK = re.compile(r'(?<![A-Za-z0-9_])(?:_|N_|C_|NC_|Q_)\s*\(\s*"')
UI_MARK = re.compile(r'translatable\s*=\s*"(?:yes|true|1)"')
ALWAYS = (".desktop.in", ".metainfo.xml.in", ".appdata.xml.in", ".gschema.xml")


def translatable(path):
    if path.endswith(ALWAYS):
        return True
    if path.endswith((".c", ".h")):
        mark = C_MARK
    elif path.endswith(".ui"):
        mark = UI_MARK
    else:
        return False
    with open(path, encoding="utf-8", errors="replace") as f:
        return mark.search(f.read()) is not None


def main(root, potfiles):
    listed = set()
    with open(potfiles, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                listed.add(line)

    found = set()
    for top in SCANNED_DIRS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames[:] = [d for d in dirnames if not d.startswith((".", "_build"))]
            for name in filenames:
                path = os.path.join(dirpath, name)
                if translatable(path):
                    found.add(os.path.relpath(path, root))

    status = 0
    for path in sorted(found - listed):
        print(f"POTFILES.in lacks {path}, which has translatable strings")
        status = 1
    for path in sorted(listed):
        if not os.path.isfile(os.path.join(root, path)):
            print(f"POTFILES.in lists {path}, which does not exist")
            status = 1
    print(f"{len(found)} files with translatable strings, {len(listed)} listed")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
