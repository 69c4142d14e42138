#!/usr/bin/env python3
"""Golden outputs of diffusers' pipelines for tests/test-pipeline.c.

Run on a developer machine (never needed by CI or users):

    pip install torch diffusers==0.35.2 transformers==4.57.6 safetensors pillow
    python3 tests/reference/make_pipeline_golden.py

Uses the tiny random-weight models of tests/data/tiny (made by
make_network_golden.py).  Their text encoders have a 1000-token vocabulary
(ids 998 and 999 are BOS and EOS), so this script first writes a matching
tiny CLIP tokenizer to tests/data/pipeline/tokenizer/: the 512 byte tokens,
the first 486 merges of CLIP's own merges file, then <|startoftext|> and
<|endoftext|> (exactly how CLIP builds its 49 408-token vocabulary, cut
short).  Both the reference and the C test tokenize with it, so the C
pipeline runs unchanged, with no id remapping.

Writes tests/data/pipeline/:
    tokenizer/vocab.json, tokenizer/merges.txt
    init.png (16×16 RGB), mask.png (16×16, right half white)
    golden.safetensors: for each case <name>.latents [1, 4, 8, 8] (the final
    latents, output_type="latent") and <name>.image [1, 3, 16, 16] (decoded,
    (x / 2 + 0.5).clamp (0, 1), fp32)
Cases (prompt "a photo of a cat", negative "blurry, dark", seed 42, CFG 7.5):
    txt2img_euler      3 steps      txt2img_euler_a    3 steps
    txt2img_ddim       3 steps      txt2img_dpmpp_2m_karras 3 steps
    img2img_euler_a    4 steps, strength 0.6
    inpaint_euler      3 steps, strength 1.0, the 4-channel model (blending)
    inpaint9_euler     3 steps, strength 1.0, the 9-channel inpainting model
"""
import gzip
import json
import os
import sys

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file
from transformers import CLIPTokenizer, CLIPTextModel
from diffusers import (AutoencoderKL, UNet2DConditionModel, StableDiffusionPipeline,
                       StableDiffusionImg2ImgPipeline, StableDiffusionInpaintPipeline,
                       EulerDiscreteScheduler, EulerAncestralDiscreteScheduler,
                       DDIMScheduler, DPMSolverMultistepScheduler)

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data")
OUT = os.path.join(DATA, "pipeline")
CLIP_GZ = os.path.join(HERE, "..", "..", "..", "shared", "data", "clip", "bpe_simple_vocab_16e6.txt.gz")

PROMPT = "a photo of a cat"
NEGATIVE = "blurry, dark"
SEED = 42


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


def write_tokenizer(folder, vocab_size=1000):
    lines = gzip.open(CLIP_GZ).read().decode("utf-8").split("\n")
    n_merges = vocab_size - 512 - 2
    merges = [tuple(m.split()) for m in lines[1:1 + n_merges]]
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab]
    vocab += ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    assert len(vocab) == vocab_size
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({t: i for i, t in enumerate(vocab)}, f, ensure_ascii=False)
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for m in merges:
            f.write(" ".join(m) + "\n")


def components(name):
    d = os.path.join(DATA, "tiny", name)
    return dict(
        vae=AutoencoderKL.from_pretrained(os.path.join(d, "vae"), torch_dtype=torch.float32),
        unet=UNet2DConditionModel.from_pretrained(os.path.join(d, "unet"), torch_dtype=torch.float32),
        text_encoder=CLIPTextModel.from_pretrained(os.path.join(d, "text_encoder"),
                                                   torch_dtype=torch.float32),
    ), os.path.join(d, "scheduler", "scheduler_config.json")


SCHEDULERS = {
    "euler": EulerDiscreteScheduler,
    "euler_a": EulerAncestralDiscreteScheduler,
    "ddim": DDIMScheduler,
    "dpmpp_2m_karras": DPMSolverMultistepScheduler,
}


def scheduler(kind, config_path):
    with open(config_path) as f:
        config = json.load(f)
    extra = {}
    if kind == "dpmpp_2m_karras":
        extra = dict(use_karras_sigmas=True, algorithm_type="dpmsolver++", solver_order=2)
    return SCHEDULERS[kind].from_config(config, **extra)


def decode(pipe, latents):
    with torch.no_grad():
        x = pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample
    return (x / 2 + 0.5).clamp(0, 1)


def main():
    os.makedirs(OUT, exist_ok=True)
    write_tokenizer(os.path.join(OUT, "tokenizer"))
    tok = CLIPTokenizer(os.path.join(OUT, "tokenizer", "vocab.json"),
                        os.path.join(OUT, "tokenizer", "merges.txt"), model_max_length=77)

    # a smooth colour pattern and a mask whose right half is white
    yy, xx = np.mgrid[0:16, 0:16]
    init = np.stack([xx * 15, yy * 15, (xx + yy) * 7 + 20], axis=-1).astype(np.uint8)
    Image.fromarray(init, "RGB").save(os.path.join(OUT, "init.png"))
    mask = np.where(xx >= 8, 255, 0).astype(np.uint8)
    Image.fromarray(mask, "L").save(os.path.join(OUT, "mask.png"))
    init_img = Image.open(os.path.join(OUT, "init.png")).convert("RGB")
    mask_img = Image.open(os.path.join(OUT, "mask.png"))

    golden = {}
    common = dict(prompt=PROMPT, negative_prompt=NEGATIVE, guidance_scale=7.5,
                  output_type="latent")

    def run(name, cls, model, kind, steps, **kw):
        comps, sched_path = components(model)
        pipe = cls(tokenizer=tok, scheduler=scheduler(kind, sched_path), safety_checker=None,
                   feature_extractor=None, requires_safety_checker=False, **comps)
        pipe.set_progress_bar_config(disable=True)
        g = torch.Generator("cpu").manual_seed(SEED)
        with torch.no_grad():
            latents = pipe(num_inference_steps=steps, generator=g, **common, **kw).images
        golden[name + ".latents"] = latents
        golden[name + ".image"] = decode(pipe, latents)

    for kind in ("euler", "euler_a", "ddim", "dpmpp_2m_karras"):
        run("txt2img_" + kind, StableDiffusionPipeline, "sd1", kind, 3, height=16, width=16)
    run("img2img_euler_a", StableDiffusionImg2ImgPipeline, "sd1", "euler_a", 4,
        image=init_img, strength=0.6)
    run("inpaint_euler", StableDiffusionInpaintPipeline, "sd1", "euler", 3,
        image=init_img, mask_image=mask_img, strength=1.0, height=16, width=16)
    run("inpaint9_euler", StableDiffusionInpaintPipeline, "sd1-inpaint", "euler", 3,
        image=init_img, mask_image=mask_img, strength=1.0, height=16, width=16)

    save_file({k: v.contiguous().float() for k, v in golden.items()},
              os.path.join(OUT, "golden.safetensors"))
    print("written:", {k: tuple(v.shape) for k, v in golden.items()}, file=sys.stderr)


if __name__ == "__main__":
    main()
