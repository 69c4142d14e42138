#version 450
/* conv2d: direct convolution as an implicit GEMM (no im2col buffer), with
 * fp32 accumulation.
 *
 *   x    [N, C, H, W]
 *   w    [O, C, k, k]   k = p.ksize (1 or 3)
 *   bias [O] (read only when p.has_bias)
 *   y    [N, O, Ho, Wo]
 *
 * y[n, o, pix] = bias[o] + Σ_{c, ky, kx} w[o, c, ky, kx] · x[n, c, iy, ix]
 * with iy = oy · stride − padding + ky (likewise ix); taps outside the
 * image read zero.  Each invocation computes a TO × TP register tile: TO
 * output channels times TP consecutive output pixels (flattened over the
 * rows), loading TO weights and TP input pixels per (c, ky, kx) step; no
 * shared memory.  The grid is x: pixel tiles, y: channel tiles, z: images
 * (workgroup size 1 along z). */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

DF_WORKGROUP_LAYOUT;

/* Register tile: output channels and output pixels per invocation. */
layout(constant_id = 3) const uint TO = 4;
layout(constant_id = 4) const uint TP = 4;

layout(push_constant) uniform Push { DF_PUSH_CONV2D } p;
layout(std430, binding = 0) writeonly buffer Y { STORE_T y[]; };
layout(std430, binding = 1) readonly buffer X { STORE_T x[]; };
layout(std430, binding = 2) readonly buffer W { STORE_T w[]; };
layout(std430, binding = 3) readonly buffer Bias { STORE_T bias[]; };

void
main ()
{
  const uint npix = p.ho * p.wo;
  /* With a workgroup one invocation high, the output channels (and image)
   * are uniform across the workgroup, so the weight loads are too: one
   * load for all invocations on CPU devices.  No early return for the same
   * reason; out-of-range invocations clamp their loads and store nothing. */
  const uint pix0 = gl_GlobalInvocationID.x * TP;
  const uint o0 = (gl_WorkGroupSize.y == 1 ? gl_WorkGroupID.y : gl_GlobalInvocationID.y) * TO;
  const uint img = gl_WorkGroupID.z;

  const uint plane = p.h * p.w;
  const uint taps = p.ksize * p.ksize;
  const uint x_base = img * p.c * plane;

  /* top-left input tap of each output pixel (may be outside the image) */
  int iy0[TP];
  int ix0[TP];
  for (uint j = 0; j < TP; j++)
    {
      const uint pix = min (pix0 + j, npix - 1);
      iy0[j] = int (pix / p.wo * p.stride) - p.padding;
      ix0[j] = int (pix % p.wo * p.stride) - p.padding;
    }
  uint w_row[TO];
  for (uint i = 0; i < TO; i++)
    w_row[i] = min (o0 + i, p.o - 1) * p.c * taps;

  float acc[TO][TP];
  for (uint i = 0; i < TO; i++)
    for (uint j = 0; j < TP; j++)
      acc[i][j] = 0.0;

  for (uint ky = 0; ky < p.ksize; ky++)
    for (uint kx = 0; kx < p.ksize; kx++)
      {
        /* offset within a channel plane, and 1 or 0 for padding taps */
        uint off[TP];
        float inside[TP];
        for (uint j = 0; j < TP; j++)
          {
            const int iy = iy0[j] + int (ky);
            const int ix = ix0[j] + int (kx);
            const bool ok = iy >= 0 && iy < int (p.h) && ix >= 0 && ix < int (p.w);
            off[j] = ok ? uint (iy) * p.w + uint (ix) : 0u;
            inside[j] = ok ? 1.0 : 0.0;
          }
        const uint tap = ky * p.ksize + kx;
        for (uint c = 0; c < p.c; c++)
          {
            float xv[TP];
            float wv[TO];
            for (uint j = 0; j < TP; j++)
              xv[j] = inside[j] * float (x[x_base + c * plane + off[j]]);
            for (uint i = 0; i < TO; i++)
              wv[i] = float (w[w_row[i] + c * taps + tap]);
            for (uint i = 0; i < TO; i++)
              for (uint j = 0; j < TP; j++)
                acc[i][j] = fma (wv[i], xv[j], acc[i][j]);
          }
      }

  for (uint i = 0; i < TO; i++)
    {
      const uint o = o0 + i;
      if (o >= p.o)
        break;
      const float add = p.has_bias != 0 ? float (bias[o]) : 0.0;
      for (uint j = 0; j < TP; j++)
        {
          const uint pix = pix0 + j;
          if (pix < npix)
            y[(img * p.o + o) * npix + pix] = STORE_T (acc[i][j] + add);
        }
    }
}
