#!/usr/bin/env python3
"""Golden outputs of the FULL-SIZE Stable Diffusion 1.5 networks with
synthetic weights, so the C networks are proved at full size without a
2 GB checkpoint in the repository.

The weights follow the rule documented in compute/df-synthetic.c (a hash
of the tensor's internal name and the element's index → a uniform value,
rounded to fp16); this script implements the same rule with numpy, loads
the values into diffusers / transformers models built from the SD 1.5
configs, and runs them on small fixed inputs.

    pip install torch diffusers==0.35.2 transformers==4.57.6 safetensors numpy
    python3 tests/reference/make_fullsize_golden.py     # ~2 minutes, 8 GB RAM

Writes tests/data/fullsize/sd15-golden.safetensors (fp32):
    clip.ids [1, 77] (as f32), clip.last [1, 77, 768], clip.skip1 [1, 77, 768]
    unet.sample [2, 4, 8, 8], unet.timestep [2], unet.context [2, 77, 768], unet.out
    vae.latent [1, 4, 8, 8], vae.decoded [1, 3, 64, 64]
"""
import math
import os

import numpy as np
import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "data", "fullsize")

GAMMA = np.uint64(0x9E3779B97F4A7C15)
M1 = np.uint64(0xBF58476D1CE4E5B9)
M2 = np.uint64(0x94D049BB133111EB)


def fnv1a64(name):
    h = 0xCBF29CE484222325
    for b in name.encode():
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return np.uint64(h)


def synthetic(name, shape):
    n = int(np.prod(shape)) if len(shape) else 1
    fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
    if name.endswith(".bias"):
        offset, scale = 0.0, 0.02
    elif len(shape) == 1:
        offset, scale = 1.0, 0.1
    else:
        offset, scale = 0.0, math.sqrt(3.0 / fan_in)
    out = np.empty(n, dtype=np.float16)
    h = fnv1a64(name)
    chunk = 1 << 22
    with np.errstate(over="ignore"):
        for start in range(0, n, chunk):
            i = np.arange(start, min(n, start + chunk), dtype=np.uint64)
            z = h + (i + np.uint64(1)) * GAMMA
            z = (z ^ (z >> np.uint64(30))) * M1
            z = (z ^ (z >> np.uint64(27))) * M2
            z = z ^ (z >> np.uint64(31))
            u = (z >> np.uint64(40)).astype(np.float64) / 16777216.0
            v = offset + scale * (2.0 * u - 1.0)
            out[start:start + len(i)] = v.astype(np.float32).astype(np.float16)
    return torch.from_numpy(out.astype(np.float32).reshape(shape))


def fill(module, prefix):
    state = module.state_dict()
    new = {}
    for key, value in state.items():
        if key.endswith("position_ids"):
            new[key] = value
            continue
        new[key] = synthetic(prefix + key, tuple(value.shape))
    module.load_state_dict(new)


UNET = dict(
    sample_size=64, in_channels=4, out_channels=4, layers_per_block=2,
    block_out_channels=(320, 640, 1280, 1280),
    down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
    up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
    cross_attention_dim=768, attention_head_dim=8, norm_num_groups=32,
)
VAE = dict(
    in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2,
    block_out_channels=(128, 256, 512, 512),
    down_block_types=("DownEncoderBlock2D",) * 4,
    up_block_types=("UpDecoderBlock2D",) * 4, norm_num_groups=32, sample_size=512,
)
CLIP = dict(
    vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
    num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu",
    projection_dim=768,
)


def main():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(2024)
    golden = {}
    with torch.no_grad():
        te = CLIPTextModel(CLIPTextConfig(**CLIP)).eval()
        fill(te, "text_encoder.")
        # "a photo of a cat", padded with <|endoftext|> as SD 1.x does
        ids = [49406, 320, 1125, 539, 320, 2368, 49407] + [49407] * 70
        ids = torch.tensor([ids])
        out = te(ids, output_hidden_states=True)
        golden["clip.ids"] = ids.float()
        golden["clip.last"] = out.last_hidden_state
        golden["clip.skip1"] = te.text_model.final_layer_norm(out.hidden_states[-2])
        del te

        un = UNet2DConditionModel(**UNET).eval()
        fill(un, "unet.")
        sample = torch.randn(2, 4, 8, 8, generator=g)
        timestep = torch.tensor([999.0, 281.0])
        context = torch.randn(2, 77, 768, generator=g)
        golden["unet.sample"] = sample
        golden["unet.timestep"] = timestep
        golden["unet.context"] = context
        golden["unet.out"] = un(sample, timestep, encoder_hidden_states=context).sample
        del un

        va = AutoencoderKL(**VAE).eval()
        fill(va, "vae.")
        latent = torch.randn(1, 4, 8, 8, generator=g)
        golden["vae.latent"] = latent
        golden["vae.decoded"] = va.decode(latent).sample

    os.makedirs(OUT, exist_ok=True)
    save_file({k: v.contiguous().float() for k, v in golden.items()},
              os.path.join(OUT, "sd15-golden.safetensors"))
    for k, v in golden.items():
        print(k, tuple(v.shape), float(v.abs().max()))


if __name__ == "__main__":
    main()
