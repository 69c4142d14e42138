#!/usr/bin/env python3
"""Fetches newer tools from Debian's archive, for developer checks on a
Debian 12 machine, without installing anything system-wide.

    newer-toolchain.py glslang DIR
        Debian 13's glslangValidator (15.x) and spirv-val, with the C
        library they need, under DIR; writes DIR/glslangValidator and
        DIR/spirv-val (wrappers) and DIR/native.ini, a meson native file:
            meson setup _build-khr --native-file DIR/native.ini
        builds the VK_KHR_cooperative_matrix kernels, which Debian 12's
        glslang 12 cannot write.

    newer-toolchain.py lavapipe DIR
        Debian unstable's Mesa lavapipe (which has VK_KHR_cooperative_matrix
        on 8x8x8 fragments), its Vulkan loader and validation layer, with
        their C library, under DIR; writes DIR/run, which runs a program of
        ours on that device:
            meson test -C _build-khr --wrapper DIR/run ops-linalg-coop-kernels

Each package's dependencies are followed (first alternative) within the
same suite.  Only this machine and the developer use these; neither CI
nor users need them.
"""
import lzma
import os
import re
import subprocess
import sys
import urllib.request

MIRROR = "https://deb.debian.org/debian"
# never needed to run a program from a private library path
SKIP = {"debconf", "dpkg", "perl-base", "libc-bin", "adduser", "coreutils", "debianutils",
        "sensible-utils", "ucf", "init-system-helpers", "libgcc1", "usrmerge"}


def packages(suite, cache):
    path = os.path.join(cache, f"Packages-{suite}")
    if not os.path.exists(path):
        url = f"{MIRROR}/dists/{suite}/main/binary-amd64/Packages.xz"
        with urllib.request.urlopen(url, timeout=120) as r:
            data = lzma.decompress(r.read())
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        os.rename(path + ".tmp", path)
    index = {}
    provides = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for stanza in f.read().split("\n\n"):
            fields = {}
            for line in stanza.split("\n"):
                m = re.match(r"^([A-Za-z-]+): (.*)$", line)
                if m:
                    fields[m.group(1)] = m.group(2)
            name = fields.get("Package")
            if not name or name in index:
                continue
            index[name] = fields
            for p in fields.get("Provides", "").split(","):
                p = p.strip().split(" ")[0]
                if p:
                    provides.setdefault(p, name)
    return index, provides


def closure(roots, index, provides):
    seen, todo = [], list(roots)
    while todo:
        name = todo.pop()
        name = name if name in index else provides.get(name, name)
        if name in seen or name in SKIP:
            continue
        if name not in index:
            sys.exit(f"package {name} not found")
        seen.append(name)
        for dep in index[name].get("Depends", "").split(",") + \
                index[name].get("Pre-Depends", "").split(","):
            first = dep.split("|")[0].strip()
            first = re.sub(r"\s*\(.*\)", "", first).split(":")[0]
            if first:
                todo.append(first)
    return seen


def fetch(suite, roots, root, cache):
    index, provides = packages(suite, cache)
    for name in closure(roots, index, provides):
        filename = index[name]["Filename"]
        deb = os.path.join(cache, os.path.basename(filename))
        if not os.path.exists(deb):
            with urllib.request.urlopen(f"{MIRROR}/{filename}", timeout=600) as r:
                data = r.read()
            with open(deb + ".tmp", "wb") as f:
                f.write(data)
            os.rename(deb + ".tmp", deb)
        subprocess.run(["dpkg-deb", "-x", deb, root], check=True)


def wrapper(path, root, target, env=""):
    libdir = f"{root}/usr/lib/x86_64-linux-gnu"
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + env +
                f'exec {libdir}/ld-linux-x86-64.so.2 --library-path {libdir} {target} "$@"\n')
    os.chmod(path, 0o755)


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("glslang", "lavapipe"):
        sys.exit(__doc__)
    what, out = sys.argv[1], os.path.abspath(sys.argv[2])
    root, cache = os.path.join(out, "root"), os.path.join(out, "cache")
    os.makedirs(cache, exist_ok=True)
    os.makedirs(root, exist_ok=True)
    if what == "glslang":
        fetch("trixie", ["glslang-tools", "spirv-tools"], root, cache)
        for tool in ("glslangValidator", "spirv-val"):
            wrapper(os.path.join(out, tool), root, f"{root}/usr/bin/{tool}")
        with open(os.path.join(out, "native.ini"), "w") as f:
            f.write(f"[binaries]\nglslangValidator = '{out}/glslangValidator'\n")
        print(f"{out}/native.ini")
    else:
        fetch("sid", ["mesa-vulkan-drivers", "libvulkan1", "vulkan-validationlayers"], root,
              cache)
        icd = os.path.join(out, "lvp.json")
        with open(icd, "w") as f:
            f.write('{"file_format_version": "1.0.0", "ICD": {"api_version": "1.4.0", '
                    f'"library_path": "{root}/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so"}}}}\n')
        env = (f"export VK_DRIVER_FILES={icd} VK_ICD_FILENAMES={icd}\n"
               f"export VK_LAYER_PATH={root}/usr/share/vulkan/explicit_layer.d\n")
        wrapper(os.path.join(out, "run"), root, "", env)
        print(f"{out}/run")


if __name__ == "__main__":
    main()
