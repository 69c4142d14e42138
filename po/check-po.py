#!/usr/bin/env python3
"""Checks one translation: `msgfmt --check` accepts it, and it is complete
against the strings the sources have now (a POT made afresh from
POTFILES.in with the same keywords as i18n.gettext's glib preset): no
untranslated and no fuzzy message.

usage: check-po.py SOURCE_ROOT LANG"""

import os
import subprocess
import sys
import tempfile

KEYWORDS = ["--keyword=_", "--keyword=N_", "--keyword=C_:1c,2", "--keyword=NC_:1c,2",
            "--keyword=Q_:1g", "--keyword=g_dngettext:2,3", "--keyword=g_dpgettext2:2c,3"]


def run(args):
    return subprocess.run(args, capture_output=True, text=True,
                          env=dict(os.environ, LC_ALL="C", LANGUAGE=""))


def main(root, lang):
    po = os.path.join(root, "po", lang + ".po")
    status = 0

    check = run(["msgfmt", "--check", "--statistics", "-o", os.devnull, po])
    print(check.stderr.strip())
    if check.returncode != 0:
        print(f"{po}: msgfmt --check failed")
        return 1

    with tempfile.TemporaryDirectory() as tmp:
        pot = os.path.join(tmp, "diffuse.pot")
        xgettext = run(["xgettext", "--from-code=UTF-8", "--add-comments", *KEYWORDS,
                        "--directory=" + root, "--files-from=" + os.path.join(root, "po", "POTFILES.in"),
                        "--output=" + pot])
        if xgettext.returncode != 0:
            print(xgettext.stderr)
            return 1
        merged = os.path.join(tmp, lang + ".po")
        merge = run(["msgmerge", "--quiet", "--no-fuzzy-matching", "--output-file=" + merged, po, pot])
        if merge.returncode != 0:
            print(merge.stderr)
            return 1
        stats = run(["msgfmt", "--statistics", "-o", os.devnull, merged])
        print("against the sources now: " + stats.stderr.strip())
        if "untranslated" in stats.stderr or "fuzzy" in stats.stderr:
            missing = run(["msgattrib", "--untranslated", "--no-obsolete", merged])
            print(missing.stdout)
            print(f"{po} is not complete: update it with `ninja diffuse-update-po` and translate")
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
