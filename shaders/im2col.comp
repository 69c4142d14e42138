#version 450
/* im2col: the input patches of a convolution as a matrix,
 *   y [N · Ho · Wo, C · k · k],  y[n·Ho·Wo + pix, c·k·k + ky·k + kx] = x[n, c, iy, ix]
 * with iy = oy · stride − padding + ky (likewise ix), 0 outside the image.
 * conv2d uses it for images of a few pixels on CPU devices, where the
 * product with the weights [O, C·k·k] then runs as a linear layer. */
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

DF_WORKGROUP_LAYOUT;

layout(push_constant) uniform Push { DF_PUSH_CONV2D } p;
layout(std430, binding = 0) writeonly buffer Y { STORE_T y[]; };
layout(std430, binding = 1) readonly buffer X { STORE_T x[]; };

void
main ()
{
  const uint taps = p.ksize * p.ksize;
  const uint row_len = p.c * taps;
  const uint npix = p.ho * p.wo;
  /* p.o holds the batch N here */
  const uint n = p.o * npix * row_len;

  for (uint i = gl_GlobalInvocationID.x; i < n; i += DF_GLOBAL_SIZE_X)
    {
      const uint row = i / row_len, col = i % row_len;
      const uint img = row / npix, pix = row % npix;
      const uint c = col / taps, tap = col % taps;
      const int iy = int (pix / p.wo * p.stride + tap / p.ksize) - p.padding;
      const int ix = int (pix % p.wo * p.stride + tap % p.ksize) - p.padding;
      float v = 0.0;
      if (iy >= 0 && iy < int (p.h) && ix >= 0 && ix < int (p.w))
        v = float (x[((img * p.c + c) * p.h + uint (iy)) * p.w + uint (ix)]);
      y[i] = STORE_T (v);
    }
}
