#!/usr/bin/env python3
"""Golden CLIP token ids for tests/test-tokenizer.c.

How to run (on a development machine, never in CI):

    python3 -m venv /tmp/venv                 # without ftfy, see below
    /tmp/venv/bin/pip install "transformers<5"  # 4.x still has the slow CLIPTokenizer
    /tmp/venv/bin/python tests/reference/make_tokenizer_golden.py \
        ../shared/data/clip/bpe_simple_vocab_16e6.txt.gz tests/data/tokenizer/golden.json

The reference is transformers' slow (pure Python) CLIPTokenizer.  Without the
ftfy package installed it cleans text with BERT's BasicTokenizer (control
characters dropped, whitespace collapsed, spaces around CJK ideographs, NFC,
lowercase); compute/df-tokenizer.c matches that mode, so ftfy must NOT be
installed when this script runs (it refuses to run otherwise).

vocab.json and merges.txt are built from the gzipped CLIP merges file exactly
as CLIP's own simple_tokenizer builds its vocabulary, written to a temporary
directory and loaded with CLIPTokenizer(vocab_file, merges_file).
"""

import gzip
import importlib.util
import json
import os
import sys
import tempfile

if importlib.util.find_spec("ftfy") is not None:
    sys.exit("ftfy is installed: uninstall it, the C tokenizer matches the BasicTokenizer path")

from transformers import CLIPTokenizer  # noqa: E402


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def build_files(gz_path, out_dir):
    lines = gzip.open(gz_path).read().decode("utf-8").split("\n")
    merges = [tuple(m.split()) for m in lines[1:49152 - 256 - 2 + 1]]
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab]
    vocab += ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    vocab_file = os.path.join(out_dir, "vocab.json")
    merges_file = os.path.join(out_dir, "merges.txt")
    with open(vocab_file, "w", encoding="utf-8") as f:
        json.dump({t: i for i, t in enumerate(vocab)}, f, ensure_ascii=False)
    with open(merges_file, "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for m in merges:
            f.write(" ".join(m) + "\n")
    return vocab_file, merges_file


PROMPTS = [
    "",
    "a photo of a cat",
    "A Photo Of A CAT",
    "a photograph of an astronaut riding a horse",
    "masterpiece, best quality, 1girl, solo, long hair, looking at viewer",
    "Hello, world! How's it going? I'm fine; you're great, we've been there, they'll see, he'd go.",
    "It's JOHN'S dog's bone, isn't it? 'quoted' \"double\" ``ticks''",
    "1234567890 3.14159 1,000,000 2024-01-01 12:30pm #42 $99.99 50%",
    "café naïve résumé Zürich São Paulo Ångström façade",
    "cafe\u0301 (decomposed e + combining acute)",
    "中文提示词：一只猫坐在窗台上",
    "日本語のテキスト、ひらがなとカタカナ",
    "한국어 문장입니다",
    "Привет, мир! ПРОВЕРКА",
    "ΟΔΟΣ Σ σοφία ΣΟΦΊΑ",
    "مرحبا بالعالم",
    "emoji 🐱🐶 🚀✨ 👩‍💻 🇫🇷 ❤️",
    "multiple    spaces\tand\ttabs\nand\nnew\r\nlines   ",
    "   leading and trailing whitespace   ",
    "\u00a0non\u00a0breaking\u2003em\u3000ideographic\u2028line\u2029para",
    "zero\u200bwidth\u200djoiner\ufeffbom soft\u00adhyphen",
    "control\x01chars\x07bell\x1bescape\x7fdel\x85nel",  # no NUL: C strings end there
    "<b>bold</b> <a href=\"x.html\">link</a> &amp; &lt;tag&gt;",
    "<|startoftext|>a cat<|endoftext|>",
    "<|ENDOFTEXT|> and <|StartOfText|>",
    "x<|endoftext|>y !<|endoftext|>",
    "a dog, (a cat:1.2), [background], ((masterpiece))",
    "!!!??? ... --- ___ *** ~~~ ^^^ ||| \\\\ //",
    "snake_case camelCase PascalCase kebab-case SCREAMING_CASE",
    "don't won't can't shouldn't y'all o'clock rock'n'roll",
    "'s 't 're 've 'm 'll 'd ''s '''",
    "Ⅻ roman numerals ⓐⒶ circled ﬁ ligature",
    "İstanbul ıi",
    "ſtraße STRASSE 'ſ",
    "x² H₂O ½ ¾ ① ⁴",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝐛𝐨𝐥𝐝",
    "tab\tseparated\tvalues\t1\t2",
    "trending on artstation, 8k, octane render, unreal engine 5, highly detailed",
    "a",
    ".",
    "'",
    "https://example.com/path?query=1&x=y#frag user@example.org",
    "ＦＵＬＬＷＩＤＴＨ　ｔｅｘｔ １２３",
    "the quick brown fox jumps over the lazy dog " * 12,
    "supercalifragilisticexpialidocious pneumonoultramicroscopicsilicovolcanoconiosis",
    "a" * 300,
    "!" * 200,
    "🙂" * 40,
    "photo, " * 60,
    "𠀀𠀁 CJK extension B and 豈 compatibility",
    " ".join(str(i) for i in range(60)),
    "portrait of a knight in ornate silver armour, (dramatic lighting:1.2), volumetric fog, "
    "[blurry], cinematic composition, by greg rutkowski and alphonse mucha, 4k uhd, "
    "intricate filigree, glowing runes, castle ruins at dusk, ravens circling overhead, "
    "muted colour palette, film grain, 35mm photograph, depth of field, bokeh",
]


def main():
    gz_path, out_path = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as d:
        vocab_file, merges_file = build_files(gz_path, d)
        tok = CLIPTokenizer(vocab_file, merges_file)
        cases = []
        for p in PROMPTS:
            ids = tok(p)["input_ids"]
            trunc = tok(p, padding="max_length", max_length=77, truncation=True)["input_ids"]
            case = {"prompt": p, "ids": ids}
            if len(ids) > 77:
                case["truncated"] = trunc
            else:
                # short prompts pad with <|endoftext|>; no need to store it
                assert trunc == ids + [tok.pad_token_id] * (77 - len(ids))
            cases.append(case)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump({"tokenizer": "transformers %s CLIPTokenizer (slow, no ftfy)"
                   % __import__("transformers").__version__,
                   "cases": cases}, f, ensure_ascii=True, indent=None, separators=(",", ":"))
        f.write("\n")
    print("%d prompts written to %s" % (len(cases), out_path))


if __name__ == "__main__":
    main()
