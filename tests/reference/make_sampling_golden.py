#!/usr/bin/env python3
"""Golden data for tests/test-rng.c and tests/test-sampler.c.

Run from the repository root (needs torch, diffusers, scipy, numpy; CPU only):

    pip install torch diffusers scipy numpy
    python3 tests/reference/make_sampling_golden.py

It writes tests/data/sampling/:
  rng.json, rng.f32          torch.randn with a seeded CPU generator, for
                             several seeds and shapes, and two consecutive
                             draws from one generator
  schedulers.json,
  schedulers.f32             for every sampler and prediction type: the
                             timesteps, sigmas, init_noise_sigma and every
                             latent of a synthetic run (and img2img runs)
The .f32 files are raw little-endian float32; the JSON gives each array's
offset and length in floats.  Made with torch 2.15, diffusers 0.42.1.
"""
import json
import math
import os
import sys

import numpy as np
import torch
from diffusers import (
    DDIMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    HeunDiscreteScheduler,
    LCMScheduler,
    LMSDiscreteScheduler,
)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "sampling")

# runwayml/stable-diffusion-v1-5 scheduler/scheduler_config.json
SD15 = {
    "_class_name": "PNDMScheduler",
    "_diffusers_version": "0.6.0",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "num_train_timesteps": 1000,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "trained_betas": None,
    "clip_sample": False,
}

SAMPLERS = {
    "euler": (EulerDiscreteScheduler, {}),
    "euler_a": (EulerAncestralDiscreteScheduler, {}),
    "heun": (HeunDiscreteScheduler, {}),
    "ddim": (DDIMScheduler, {}),
    "lms": (LMSDiscreteScheduler, {}),
    "dpmpp_2m": (DPMSolverMultistepScheduler, {}),
    "dpmpp_2m_karras": (DPMSolverMultistepScheduler, {"use_karras_sigmas": True}),
    "lcm": (LCMScheduler, {}),
}

SHAPE = (1, 4, 4, 4)


class Blob:
    def __init__(self):
        self.parts = []
        self.size = 0

    def add(self, array):
        a = np.ascontiguousarray(np.asarray(array, dtype="<f4")).ravel()
        offset = self.size
        self.parts.append(a)
        self.size += a.size
        return {"offset": offset, "length": int(a.size)}

    def write(self, path):
        with open(path, "wb") as f:
            for a in self.parts:
                f.write(a.tobytes())


def fake_model(x, t):
    """A deterministic stand-in for the UNet: smooth in x, depends on t."""
    return 0.1 * x + 0.02 * torch.sin(3.0 * x) + 0.01 * float(t) / 1000.0


def make_rng(blob):
    seeds = [0, 1, 42, 2**32 - 1, 0x123456789ABCDEF]
    shapes = [[1, 4, 64, 64], [1, 4, 8, 8], [2, 4, 5, 7], [7], [3], [16], [17]]
    cases = []
    for seed in seeds:
        for shape in shapes:
            if shape == [1, 4, 64, 64] and seed not in (0, 42, 0x123456789ABCDEF):
                continue  # keep the golden files small
            g = torch.Generator("cpu").manual_seed(seed)
            x = torch.randn(shape, generator=g, dtype=torch.float32)
            cases.append({"seed": str(seed), "shape": shape, "draws": [blob.add(x)]})
    # consecutive draws continue one stream (incl. the cached double sample)
    for seed, shapes2 in [(7, [[1, 4, 8, 8], [1, 4, 8, 8]]), (7, [[3], [3], [5], [40], [1]]),
                          (123, [[2, 4, 5, 7], [7], [33]])]:
        g = torch.Generator("cpu").manual_seed(seed)
        draws = [blob.add(torch.randn(s, generator=g, dtype=torch.float32)) for s in shapes2]
        cases.append({"seed": str(seed), "shapes": shapes2, "draws": draws})
    return cases


def make_scheduler(name, prediction):
    cls, extra = SAMPLERS[name]
    return cls.from_config(SD15, prediction_type=prediction, **extra)


def run(blob, name, prediction, steps, strength=None):
    s = make_scheduler(name, prediction)
    s.set_timesteps(steps)
    g = torch.Generator("cpu").manual_seed(0)
    case = {
        "sampler": name,
        "prediction": prediction,
        "steps": steps,
        "timesteps": [float(t) for t in s.timesteps],
        "init_noise_sigma": float(s.init_noise_sigma),
        "order": int(s.order),
    }
    if hasattr(s, "sigmas"):
        case["sigmas"] = [float(x) for x in s.sigmas]
    timesteps = s.timesteps
    first = 0
    if strength is None:
        latents = torch.randn(SHAPE, generator=g, dtype=torch.float32) * s.init_noise_sigma
    else:
        # StableDiffusionImg2ImgPipeline.get_timesteps and prepare_latents
        init_timestep = min(int(steps * strength), steps)
        t_start = max(steps - init_timestep, 0)
        first = t_start * s.order
        timesteps = s.timesteps[first:]
        if hasattr(s, "set_begin_index"):
            s.set_begin_index(first)
        init = torch.randn(SHAPE, generator=torch.Generator("cpu").manual_seed(1),
                           dtype=torch.float32)
        noise = torch.randn(SHAPE, generator=g, dtype=torch.float32)
        latents = s.add_noise(init, noise, timesteps[:1])
        case["strength"] = strength
        case["init"] = blob.add(init)
    case["first"] = first
    states = [latents.clone()]
    for t in timesteps:
        inp = s.scale_model_input(latents, t)
        out = fake_model(inp, t)
        kwargs = {"generator": g} if name in ("euler_a", "lcm") else {}
        latents = s.step(out, t, latents, return_dict=False, **kwargs)[0]
        states.append(latents.clone())
    case["latents"] = blob.add(torch.stack(states))
    return case


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)

    blob = Blob()
    rng = {"cases": make_rng(blob)}
    with open(os.path.join(OUT, "rng.json"), "w") as f:
        json.dump(rng, f, indent=1)
    blob.write(os.path.join(OUT, "rng.f32"))

    blob = Blob()
    ref = EulerDiscreteScheduler.from_config(SD15)
    doc = {
        "shape": list(SHAPE),
        "model": "0.1*x + 0.02*sin(3*x) + 0.01*t/1000 of the scaled input x",
        "alphas_cumprod": blob.add(ref.alphas_cumprod),
        "runs": [],
    }
    for name in SAMPLERS:
        for prediction in ("epsilon", "v_prediction"):
            steps = 4 if name == "lcm" else 10
            doc["runs"].append(run(blob, name, prediction, steps))
        doc["runs"].append(run(blob, name, "epsilon", 4 if name == "lcm" else 10, strength=0.6))
    # an odd step count, where linspace timesteps are not integers
    for name in ("euler", "heun", "lms", "dpmpp_2m", "dpmpp_2m_karras", "ddim"):
        doc["runs"].append(run(blob, name, "epsilon", 7))
    with open(os.path.join(OUT, "schedulers.json"), "w") as f:
        json.dump(doc, f, indent=1)
    blob.write(os.path.join(OUT, "schedulers.f32"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
