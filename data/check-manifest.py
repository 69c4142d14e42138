#!/usr/bin/env python3
"""Checks the Flatpak manifest: valid JSON, the GNOME runtime, the sandbox
permissions Diffuse needs and no broader ones, the app module built with
meson from this tree, and the CLIP vocabulary pinned by SHA-256 and
installed where the app looks for it (PKGDATADIR = /app/share/diffuse)."""

import hashlib
import json
import os
import re
import sys

VOCAB = "bpe_simple_vocab_16e6.txt.gz"
VOCAB_URL = "https://github.com/openai/CLIP/raw/main/clip/" + VOCAB
REQUIRED_ARGS = {"--device=dri", "--socket=wayland", "--socket=fallback-x11",
                 "--share=ipc", "--share=network"}
ALLOWED_ARGS = REQUIRED_ARGS | {"--filesystem=xdg-pictures/Diffuse:create"}

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


def main(path):
    with open(path, encoding="utf-8") as f:
        try:
            m = json.load(f)
        except json.JSONDecodeError as e:
            print(f"{path}: not valid JSON: {e}")
            return 1

    check(m.get("id") == "org.example.Diffuse", "id is not org.example.Diffuse")
    check(m.get("runtime") == "org.gnome.Platform", "runtime is not org.gnome.Platform")
    check(m.get("sdk") == "org.gnome.Sdk", "sdk is not org.gnome.Sdk")
    check(re.fullmatch(r"\d+", str(m.get("runtime-version", ""))) is not None,
          "runtime-version is not a GNOME release number")
    check(m.get("command") == "diffuse", "command is not diffuse")

    args = m.get("finish-args", [])
    check(isinstance(args, list), "finish-args is not a list")
    args = set(args) if isinstance(args, list) else set()
    for a in sorted(REQUIRED_ARGS - args):
        failures.append(f"finish-args lacks {a}")
    for a in sorted(args - ALLOWED_ARGS):
        failures.append(f"finish-args has {a}, which Diffuse does not need")

    modules = m.get("modules", [])
    check(isinstance(modules, list) and modules, "no modules")
    modules = [x for x in modules if isinstance(x, dict)] if isinstance(modules, list) else []
    app = modules[-1] if modules else {}
    check(app.get("name") == "diffuse", "the last module is not diffuse")
    check(app.get("buildsystem") == "meson", "diffuse is not built with meson")
    check(any(s.get("type") == "dir" and s.get("path") == "." for s in app.get("sources", [])),
          "diffuse is not built from this tree (a dir source with path '.')")

    vocab = [(mod, s) for mod in modules for s in mod.get("sources", [])
             if isinstance(s, dict) and s.get("type") == "file" and s.get("url") == VOCAB_URL]
    check(len(vocab) == 1, "the CLIP vocabulary is not a file source with the OpenAI URL")
    if vocab:
        mod, src = vocab[0]
        sha = src.get("sha256", "")
        check(re.fullmatch(r"[0-9a-f]{64}", sha) is not None, "the vocabulary has no sha256")
        commands = " ".join(mod.get("build-commands", []))
        check("/app/share/diffuse/" + VOCAB in commands,
              "the vocabulary is not installed to /app/share/diffuse/")
        # Where the shared test data is at hand, the pin must match it.
        local = os.path.join(os.environ.get("DIFFUSE_SHARED_DATA", ""), "clip", VOCAB)
        if os.path.isfile(local):
            with open(local, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            check(sha == digest, f"sha256 {sha} does not match {local} ({digest})")

    for message in failures:
        print(f"{path}: {message}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
