#!/usr/bin/env python3
"""Writes the complete tensor key lists of SD 1.5 and SD 2.x in both
checkpoint layouts, with shapes, for tests/test-model.c:

  tests/data/model/<name>-diffusers.txt   "unet.<key>\t<shape>" lines, from
      diffusers' own models built from the published configs (on the meta
      device, so no weights are made);
  tests/data/model/<name>-original.txt    "<key>\t<shape>" lines of the
      original single-file layout, made by an inverse mapping written here
      and then CHECKED with diffusers' own single-file converters
      (diffusers.loaders.single_file_utils): converting the original list
      back must give exactly the diffusers keys and shapes, or this script
      fails.  So the committed lists agree with diffusers, independently of
      the C tables they test.

Usage (in a venv with torch, diffusers, transformers):
  python3 tests/reference/model-keys.py tests/data/model
"""
import os
import re
import sys

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from diffusers.loaders import single_file_utils as sfu
from transformers import CLIPTextConfig, CLIPTextModel

UNET_SD15 = dict(
    sample_size=64, in_channels=4, out_channels=4, layers_per_block=2,
    block_out_channels=(320, 640, 1280, 1280), attention_head_dim=8,
    cross_attention_dim=768,
    down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
    up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
)
UNET_SD2 = dict(UNET_SD15, sample_size=96, attention_head_dim=(5, 10, 20, 20),
                cross_attention_dim=1024, use_linear_projection=True)
VAE = dict(
    in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2,
    block_out_channels=(128, 256, 512, 512), sample_size=512,
    down_block_types=("DownEncoderBlock2D",) * 4,
    up_block_types=("UpDecoderBlock2D",) * 4,
)
CLIP_SD15 = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                 num_attention_heads=12, max_position_embeddings=77,
                 vocab_size=49408, hidden_act="quick_gelu", projection_dim=768)
CLIP_SD2 = dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=23,
                num_attention_heads=16, max_position_embeddings=77,
                vocab_size=49408, hidden_act="gelu", projection_dim=512)


def shapes(module):
    return {k: tuple(v.shape) for k, v in module.state_dict().items()
            if not k.endswith("position_ids")}


def clip_shapes(module):
    """Recent transformers drop the "text_model." level from
    CLIPTextModel's state dict; the published files have it."""
    return {("" if k.startswith("text_model.") else "text_model.") + k: s
            for k, s in shapes(module).items()}


# ---- inverse mapping, diffusers -> original (independent of the C tables)

RESNET_UNET = {"norm1": "in_layers.0", "conv1": "in_layers.2",
               "time_emb_proj": "emb_layers.1", "norm2": "out_layers.0",
               "conv2": "out_layers.3", "conv_shortcut": "skip_connection"}


def unet_to_original(key, has_attn_up):
    fixed = {"time_embedding.linear_1": "time_embed.0",
             "time_embedding.linear_2": "time_embed.2",
             "conv_in": "input_blocks.0.0", "conv_norm_out": "out.0",
             "conv_out": "out.2"}
    for a, b in fixed.items():
        if key.startswith(a + "."):
            return b + key[len(a):]

    def resnet(rest):
        part, tail = rest.split(".", 1)
        return RESNET_UNET.get(part, part) + "." + tail

    m = re.match(r"down_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.*)", key)
    if m:
        b, kind, j, rest = int(m[1]), m[2], int(m[3]), m[4]
        n = 3 * b + j + 1
        return (f"input_blocks.{n}.0." + resnet(rest) if kind == "resnets"
                else f"input_blocks.{n}.1." + rest)
    m = re.match(r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.*)", key)
    if m:
        return f"input_blocks.{3 * int(m[1]) + 3}.0.op.{m[2]}"
    m = re.match(r"mid_block\.(resnets|attentions)\.(\d+)\.(.*)", key)
    if m:
        if m[1] == "attentions":
            return "middle_block.1." + m[3]
        return f"middle_block.{2 * int(m[2])}." + resnet(m[3])
    m = re.match(r"up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.*)", key)
    if m:
        b, kind, j, rest = int(m[1]), m[2], int(m[3]), m[4]
        n = 3 * b + j
        return (f"output_blocks.{n}.0." + resnet(rest) if kind == "resnets"
                else f"output_blocks.{n}.1." + rest)
    m = re.match(r"up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.*)", key)
    if m:
        b = int(m[1])
        return f"output_blocks.{3 * b + 2}.{2 if has_attn_up[b] else 1}.conv.{m[2]}"
    raise KeyError(key)


def vae_to_original(key, shape):
    """Returns (key, shape): attention weights become 1x1 convolutions."""
    fixed = {"encoder.conv_norm_out": "encoder.norm_out",
             "decoder.conv_norm_out": "decoder.norm_out"}
    for a, b in fixed.items():
        if key.startswith(a + "."):
            return b + key[len(a):], shape
    key = key.replace("conv_shortcut", "nin_shortcut")
    m = re.match(r"(encoder|decoder)\.mid_block\.attentions\.0\.(\w+(?:\.0)?)\.(\w+)$", key)
    if m:
        names = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v",
                 "to_out.0": "proj_out"}
        if m[2] != "group_norm" and m[3] == "weight":
            shape = shape + (1, 1)
        return f"{m[1]}.mid.attn_1.{names[m[2]]}.{m[3]}", shape
    m = re.match(r"(encoder|decoder)\.mid_block\.resnets\.(\d+)\.(.*)", key)
    if m:
        return f"{m[1]}.mid.block_{int(m[2]) + 1}.{m[3]}", shape
    m = re.match(r"encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.(.*)", key)
    if m:
        return f"encoder.down.{m[1]}.block.{m[2]}.{m[3]}", shape
    m = re.match(r"encoder\.down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.*)", key)
    if m:
        return f"encoder.down.{m[1]}.downsample.conv.{m[2]}", shape
    m = re.match(r"decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(.*)", key)
    if m:
        return f"decoder.up.{3 - int(m[1])}.block.{m[2]}.{m[3]}", shape
    m = re.match(r"decoder\.up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.*)", key)
    if m:
        return f"decoder.up.{3 - int(m[1])}.upsample.conv.{m[2]}", shape
    return key, shape


def openclip_original(clip):
    """The SD 2.x text encoder as OpenCLIP stores it: 24 resblocks (the
    last unused by the pipeline), fused q/k/v, text_projection."""
    out = {}
    p = "cond_stage_model.model."
    c = clip["hidden_size"]
    out[p + "token_embedding.weight"] = (clip["vocab_size"], c)
    out[p + "positional_embedding"] = (clip["max_position_embeddings"], c)
    for i in range(clip["num_hidden_layers"] + 1):
        r = f"{p}transformer.resblocks.{i}."
        out[r + "attn.in_proj_weight"] = (3 * c, c)
        out[r + "attn.in_proj_bias"] = (3 * c,)
        out[r + "attn.out_proj.weight"] = (c, c)
        out[r + "attn.out_proj.bias"] = (c,)
        for ln in ("ln_1", "ln_2"):
            out[r + ln + ".weight"] = (c,)
            out[r + ln + ".bias"] = (c,)
        out[r + "mlp.c_fc.weight"] = (clip["intermediate_size"], c)
        out[r + "mlp.c_fc.bias"] = (clip["intermediate_size"],)
        out[r + "mlp.c_proj.weight"] = (c, clip["intermediate_size"])
        out[r + "mlp.c_proj.bias"] = (c,)
    out[p + "ln_final.weight"] = (c,)
    out[p + "ln_final.bias"] = (c,)
    out[p + "text_projection"] = (c, c)
    out[p + "logit_scale"] = ()
    return out


def meta(shapes_):
    return {k: torch.empty(s, device="meta") for k, s in shapes_.items()}


def build(name, unet_cfg, clip_cfg, outdir):
    with torch.device("meta"):
        unet = UNet2DConditionModel(**unet_cfg)
        vae = AutoencoderKL(**VAE)
        clip = CLIPTextModel(CLIPTextConfig(**clip_cfg))
    want = {}
    for prefix, table in (("unet.", shapes(unet)), ("vae.", shapes(vae)),
                          ("text_encoder.", clip_shapes(clip))):
        for k, s in table.items():
            want[prefix + k] = s

    has_attn_up = ["CrossAttn" in t for t in unet_cfg["up_block_types"]]
    orig = {}
    for k, s in shapes(unet).items():
        orig["model.diffusion_model." + unet_to_original(k, has_attn_up)] = s
    for k, s in shapes(vae).items():
        ok, os_ = vae_to_original(k, s)
        orig["first_stage_model." + ok] = os_
    if clip_cfg["hidden_act"] == "quick_gelu":
        for k, s in clip_shapes(clip).items():
            orig["cond_stage_model.transformer." + k] = s
    else:
        orig.update(openclip_original(clip_cfg))

    # Check the original list with diffusers' own converters.
    ckpt = meta(orig)
    got = {}
    for k, v in sfu.convert_ldm_unet_checkpoint(ckpt, unet.config).items():
        got["unet." + k] = tuple(v.shape)
    for k, v in sfu.convert_ldm_vae_checkpoint(ckpt, vae.config).items():
        got["vae." + k] = tuple(v.shape)
    if clip_cfg["hidden_act"] == "quick_gelu":
        conv = sfu.convert_ldm_clip_checkpoint(ckpt)
    else:
        conv = sfu.convert_open_clip_checkpoint(clip, ckpt)
    for k, v in conv.items():
        if not k.endswith("position_ids"):
            got["text_encoder." + k] = tuple(v.shape)
    if got != want:
        missing = sorted(set(want) - set(got))[:10]
        extra = sorted(set(got) - set(want))[:10]
        bad = sorted(k for k in set(got) & set(want) if got[k] != want[k])[:10]
        sys.exit(f"{name}: the original list does not convert back: missing {missing}, "
                 f"extra {extra}, shape mismatch {bad}")

    def write(path, d):
        with open(path, "w") as f:
            for k in sorted(d):
                f.write(f"{k}\t{','.join(str(x) for x in d[k])}\n")

    write(os.path.join(outdir, f"{name}-diffusers.txt"), want)
    write(os.path.join(outdir, f"{name}-original.txt"), orig)
    print(f"{name}: {len(orig)} original keys, {len(want)} diffusers keys")


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "tests/data/model"
    os.makedirs(outdir, exist_ok=True)
    build("sd15", UNET_SD15, CLIP_SD15, outdir)
    build("sd2", UNET_SD2, CLIP_SD2, outdir)


if __name__ == "__main__":
    main()
