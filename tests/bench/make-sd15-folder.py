# make-sd15-folder.py — a full-size Stable Diffusion 1.5 diffusers folder
# with random fp16 weights (about 2 GB), to time loading a real file:
#   python3 tests/bench/make-sd15-folder.py /tmp/sd15
#   _build/app/diffuse-cli bench --model /tmp/sd15 --width 64 --height 64 --memory-only
# Needs torch, diffusers and transformers (this machine only; never CI).
import json
import os
import sys

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel

out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/sd15"
torch.manual_seed(0)
unet = UNet2DConditionModel(
    sample_size=64, cross_attention_dim=768, attention_head_dim=8,
    block_out_channels=(320, 640, 1280, 1280), layers_per_block=2,
    down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
    up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3)
unet.to(torch.float16).save_pretrained(os.path.join(out, "unet"))
vae = AutoencoderKL(
    in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(128, 256, 512, 512),
    down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
    layers_per_block=2, sample_size=512)
vae.to(torch.float16).save_pretrained(os.path.join(out, "vae"))
text = CLIPTextModel(CLIPTextConfig(
    hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
    max_position_embeddings=77, vocab_size=49408, hidden_act="quick_gelu", projection_dim=768))
text.to(torch.float16).save_pretrained(os.path.join(out, "text_encoder"))
os.makedirs(os.path.join(out, "scheduler"), exist_ok=True)
with open(os.path.join(out, "model_index.json"), "w") as f:
    json.dump({"_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.35.2"}, f)
with open(os.path.join(out, "scheduler", "scheduler_config.json"), "w") as f:
    json.dump({"_class_name": "PNDMScheduler", "beta_start": 0.00085, "beta_end": 0.012,
               "beta_schedule": "scaled_linear", "num_train_timesteps": 1000, "steps_offset": 1,
               "set_alpha_to_one": False, "skip_prk_steps": True}, f)
