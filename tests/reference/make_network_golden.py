#!/usr/bin/env python3
"""Golden data for the three networks: tiny random-weight Stable Diffusion
pipelines in the diffusers folder layout, with inputs and the outputs that
diffusers / transformers compute for them.

Run on a developer machine (never needed by CI or users):

    pip install torch diffusers==0.35.2 transformers==4.57.6 safetensors
    python3 tests/reference/make_network_golden.py

Writes tests/data/tiny/<name>/ for name in sd1, sd1-inpaint, sd2:
    model_index.json, unet/, vae/, text_encoder/, scheduler/  (diffusers layout)
    golden.safetensors  inputs and reference outputs, fp32 (weights are fp16
    files; the reference ran in fp32 on exactly those values):
        clip.ids [2, 77] (as f32), clip.last [2, 77, C], clip.skip1 [2, 77, C]
        unet.sample, unet.timestep [2], unet.context, unet.out
        vae.latent [1, 4, h, w], vae.decoded [1, 3, 8h, 8w]
        vae.image [1, 3, H, W], vae.moments [1, 8, H/8, W/8] (encoder mean, logvar)

All parameters are perturbed away from their initial values (norm weights
are not all ones, biases not all zeros), so a weight mapped to the wrong
place changes the outputs.
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file
from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "data", "tiny")


def perturb(module, seed):
    """Moves every parameter off its initial value, then rounds it to fp16
    so the fp16 weight files hold exactly what the fp32 reference uses."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(module.named_parameters()):
            p.add_(torch.randn(p.shape, generator=g) * 0.05)
            p.copy_(p.half().float())


def save_component(model, folder, weights_name):
    """Saves the weights as fp16 (exact, see perturb) to keep the files small."""
    os.makedirs(folder, exist_ok=True)
    model.half().save_pretrained(folder, safe_serialization=True)
    model.float()
    # save_pretrained names the weights itself; keep the conventional name
    assert os.path.exists(os.path.join(folder, weights_name)), os.listdir(folder)


def make(name, *, clip, unet, vae, v_prediction=False):
    torch.manual_seed(1234)
    folder = os.path.join(OUT, name)
    os.makedirs(folder, exist_ok=True)
    golden = {}

    # --- text encoder ---
    te = CLIPTextModel(CLIPTextConfig(**clip)).eval()
    perturb(te, 1)
    save_component(te, os.path.join(folder, "text_encoder"), "model.safetensors")
    g = torch.Generator().manual_seed(7)
    ids = torch.randint(0, clip["vocab_size"], (2, 77), generator=g)
    with torch.no_grad():
        out = te(ids, output_hidden_states=True)
        last = out.last_hidden_state
        skip1 = te.text_model.final_layer_norm(out.hidden_states[-2])
    golden["clip.ids"] = ids.float()
    golden["clip.last"] = last
    golden["clip.skip1"] = skip1

    # --- UNet ---
    un = UNet2DConditionModel(**unet).eval()
    perturb(un, 2)
    save_component(un, os.path.join(folder, "unet"), "diffusion_pytorch_model.safetensors")
    size = unet["sample_size"]
    sample = torch.randn(2, unet["in_channels"], size, size + 2, generator=g)
    timestep = torch.tensor([999.0, 281.0])
    context = torch.randn(2, 77, unet["cross_attention_dim"], generator=g)
    with torch.no_grad():
        # diffusers broadcasts one timestep; pass one per batch entry
        uout = un(sample, timestep, encoder_hidden_states=context).sample
    golden["unet.sample"] = sample
    golden["unet.timestep"] = timestep
    golden["unet.context"] = context
    golden["unet.out"] = uout

    # --- VAE ---
    va = AutoencoderKL(**vae).eval()
    perturb(va, 3)
    save_component(va, os.path.join(folder, "vae"), "diffusion_pytorch_model.safetensors")
    f = 2 ** (len(vae["block_out_channels"]) - 1)
    latent = torch.randn(1, vae["latent_channels"], 5, 6, generator=g)
    image = torch.rand(1, 3, 5 * f, 6 * f, generator=g) * 2 - 1
    with torch.no_grad():
        decoded = va.decode(latent).sample
        h = va.encoder(image)
        moments = va.quant_conv(h)
    golden["vae.latent"] = latent
    golden["vae.decoded"] = decoded
    golden["vae.image"] = image
    golden["vae.moments"] = moments

    save_file({k: v.contiguous().float() for k, v in golden.items()},
              os.path.join(folder, "golden.safetensors"))

    sched = {
        "_class_name": "PNDMScheduler",
        "beta_end": 0.012,
        "beta_schedule": "scaled_linear",
        "beta_start": 0.00085,
        "clip_sample": False,
        "num_train_timesteps": 1000,
        "set_alpha_to_one": False,
        "skip_prk_steps": True,
        "steps_offset": 1,
        "prediction_type": "v_prediction" if v_prediction else "epsilon",
    }
    os.makedirs(os.path.join(folder, "scheduler"), exist_ok=True)
    with open(os.path.join(folder, "scheduler", "scheduler_config.json"), "w") as fh:
        json.dump(sched, fh, indent=2)
    index = {
        "_class_name": "StableDiffusionPipeline",
        "_diffusers_version": "0.35.2",
        "scheduler": ["diffusers", "PNDMScheduler"],
        "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"],
    }
    with open(os.path.join(folder, "model_index.json"), "w") as fh:
        json.dump(index, fh, indent=2)
    print(name, "written:", {k: tuple(v.shape) for k, v in golden.items()}, file=sys.stderr)


VAE = dict(
    in_channels=3, out_channels=3, latent_channels=4,
    down_block_types=("DownEncoderBlock2D",) * 2,
    up_block_types=("UpDecoderBlock2D",) * 2,
    block_out_channels=(32, 64), layers_per_block=1, norm_num_groups=32,
    sample_size=32, scaling_factor=0.18215,
)

CLIP_SD1 = dict(
    vocab_size=1000, hidden_size=64, intermediate_size=128, num_hidden_layers=3,
    num_attention_heads=4, max_position_embeddings=77, hidden_act="quick_gelu",
    projection_dim=64, bos_token_id=998, eos_token_id=999, pad_token_id=999,
)

UNET_SD1 = dict(
    sample_size=6, in_channels=4, out_channels=4,
    down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
    block_out_channels=(32, 64), layers_per_block=1, cross_attention_dim=64,
    attention_head_dim=2,  # diffusers' name; SD 1.x uses it as the head count
    norm_num_groups=32,
)

CLIP_SD2 = dict(CLIP_SD1, hidden_size=96, intermediate_size=192, num_attention_heads=2,
                hidden_act="gelu", projection_dim=96, pad_token_id=0)

UNET_SD2 = dict(UNET_SD1, cross_attention_dim=96, use_linear_projection=True,
                attention_head_dim=(2, 4))

if __name__ == "__main__":
    make("sd1", clip=CLIP_SD1, unet=UNET_SD1, vae=VAE)
    make("sd1-inpaint", clip=CLIP_SD1, unet=dict(UNET_SD1, in_channels=9), vae=VAE)
    make("sd2", clip=CLIP_SD2, unet=UNET_SD2, vae=VAE, v_prediction=True)
