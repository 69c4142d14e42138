/* bench-ops.c — GFLOP/s of linear, conv2d and attention at Stable
 * Diffusion 1.5 shapes (64×64 latent: 4096 tokens, 320 channels, 8 heads
 * of 40).  On a CPU device (lavapipe) the spatial size is scaled down
 * (1/4 of the pixels, so 1024 tokens and a 32×32 conv) unless --full.
 *
 * Each case runs once to compile its pipeline, then --reps times recorded
 * into one command buffer; the time is the wall time of df_cmd_submit_wait
 * over those reps.  On a CPU device the process's CPU time (all threads)
 * is printed too: on a shared machine it is steadier than wall time.
 * Run by hand:
 *   _build/tests/bench/bench-ops [--device NAME] [--reps N] [--full] [--only TEXT] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "df.h"

typedef enum
{
  CASE_LINEAR,
  CASE_CONV2D,
  CASE_ATTENTION,
} CaseKind;

typedef struct
{
  CaseKind kind;
  const char *label;
  /* linear: m, n, k; conv2d: c = o, hw, ksize; attention: lq, lk, heads, d */
  int64_t a, b, c, d;
  gboolean spatial; /* a (tokens or hw) scales with the latent area */
} BenchCase;

static const BenchCase cases[] = {
  { CASE_LINEAR, "linear 4096x320 <- 320 (attn proj)", 4096, 320, 320, 0, TRUE },
  { CASE_LINEAR, "linear 4096x1280 <- 320 (ff)", 4096, 1280, 320, 0, TRUE },
  { CASE_CONV2D, "conv2d 3x3 320->320 64x64", 320, 64, 3, 0, TRUE },
  { CASE_CONV2D, "conv2d 1x1 320->320 64x64", 320, 64, 1, 0, TRUE },
  { CASE_ATTENTION, "attention self 4096x4096, 8x40", 4096, 4096, 8, 40, TRUE },
  { CASE_ATTENTION, "attention cross 4096x77, 8x40", 4096, 77, 8, 40, TRUE },
  /* the deeper UNet levels (32×32 and 16×16 tokens, never scaled: they
   * are small already), the VAE mid-block (one head of 512) */
  { CASE_ATTENTION, "attention self 1024x1024, 8x80", 1024, 1024, 8, 80, FALSE },
  { CASE_ATTENTION, "attention self 256x256, 8x160", 256, 256, 8, 160, FALSE },
  { CASE_ATTENTION, "attention self 4096x4096, 1x512", 4096, 4096, 1, 512, TRUE },
};

/* Records one run of the case; returns its FLOPs, or 0 with error set. */
static double
record_case (DfCmd *cmd, const BenchCase *bc, int64_t a, DfTensor **t, GError **error)
{
  switch (bc->kind)
    {
    case CASE_LINEAR:
      if (!df_op_linear (cmd, t[0], t[1], t[2], t[3], error))
        return 0;
      return 2.0 * a * bc->b * bc->c;
    case CASE_CONV2D:
      if (!df_op_conv2d (cmd, t[0], t[1], t[2], t[3], 1, bc->c == 3 ? 1 : 0, error))
        return 0;
      return 2.0 * a * a * bc->a * bc->a * bc->c * bc->c;
    case CASE_ATTENTION:
      {
        int64_t lk = bc->b == bc->a ? a : bc->b;
        if (!df_op_attention (cmd, t[0], t[1], t[2], t[3], (int) bc->c, 0.158f, FALSE, error))
          return 0;
        return 4.0 * a * lk * bc->c * bc->d;
      }
    default:
      g_assert_not_reached ();
    }
}

/* Allocates and fills the tensors of a case: t[0] output, t[1..3] inputs. */
static gboolean
make_tensors (DfContext *ctx, DfCmd *cmd, const BenchCase *bc, DfDType dtype, int64_t a,
              DfTensor **t, GError **error)
{
  switch (bc->kind)
    {
    case CASE_LINEAR:
      t[0] = df_tensor_new4 (ctx, dtype, a, bc->b, 0, 0, error);
      t[1] = t[0] ? df_tensor_new4 (ctx, dtype, a, bc->c, 0, 0, error) : NULL;
      t[2] = t[1] ? df_tensor_new4 (ctx, dtype, bc->b, bc->c, 0, 0, error) : NULL;
      t[3] = t[2] ? df_tensor_new4 (ctx, dtype, bc->b, 0, 0, 0, error) : NULL;
      break;
    case CASE_CONV2D:
      t[0] = df_tensor_new4 (ctx, dtype, 1, bc->a, a, a, error);
      t[1] = t[0] ? df_tensor_new4 (ctx, dtype, 1, bc->a, a, a, error) : NULL;
      t[2] = t[1] ? df_tensor_new4 (ctx, dtype, bc->a, bc->a, bc->c, bc->c, error) : NULL;
      t[3] = t[2] ? df_tensor_new4 (ctx, dtype, bc->a, 0, 0, 0, error) : NULL;
      break;
    case CASE_ATTENTION:
      {
        int64_t lk = bc->b == bc->a ? a : bc->b;
        t[0] = df_tensor_new4 (ctx, dtype, 1, a, bc->c * bc->d, 0, error);
        t[1] = t[0] ? df_tensor_new4 (ctx, dtype, 1, a, bc->c * bc->d, 0, error) : NULL;
        t[2] = t[1] ? df_tensor_new4 (ctx, dtype, 1, lk, bc->c * bc->d, 0, error) : NULL;
        t[3] = t[2] ? df_tensor_new4 (ctx, dtype, 1, lk, bc->c * bc->d, 0, error) : NULL;
        break;
      }
    default:
      g_assert_not_reached ();
    }
  if (t[3] == NULL)
    return FALSE;
  /* small values: no denormals, no overflow in f16 */
  for (int i = 1; i < 4; i++)
    if (!df_op_fill (cmd, t[i], 0.01f * i, error))
      return FALSE;
  return df_cmd_submit_wait (cmd, error);
}

/* CPU time of the whole process (the device's worker threads included
 * when the device is lavapipe), in microseconds. */
static int64_t
cpu_time_us (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return (int64_t) ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec
         + (int64_t) ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
}

static gboolean
run_case (DfContext *ctx, const BenchCase *bc, DfDType dtype, int reps, gboolean scaled,
          gboolean cpu_device, GError **error)
{
  g_autoptr (DfCmd) cmd = df_cmd_new (ctx, error);
  DfTensor *t[4] = { NULL };
  gboolean ok = FALSE;
  /* scaled: 1/4 of the latent pixels, i.e. half of each side */
  int64_t a = bc->spatial && scaled ? (bc->kind == CASE_CONV2D ? bc->b / 2 : bc->a / 4)
                                    : (bc->kind == CASE_CONV2D ? bc->b : bc->a);
  double flops = 0;
  int64_t start, elapsed, cpu_start, cpu;

  if (cmd == NULL || !make_tensors (ctx, cmd, bc, dtype, a, t, error))
    goto out;

  /* first run compiles the pipeline */
  if (record_case (cmd, bc, a, t, error) == 0 || !df_cmd_submit_wait (cmd, error))
    goto out;
  for (int r = 0; r < reps; r++)
    if ((flops = record_case (cmd, bc, a, t, error)) == 0)
      goto out;
  start = g_get_monotonic_time ();
  cpu_start = cpu_time_us ();
  if (!df_cmd_submit_wait (cmd, error))
    goto out;
  elapsed = g_get_monotonic_time () - start;
  cpu = cpu_time_us () - cpu_start;

  {
    const char *label = bc->label;
    double ms = elapsed / 1000.0 / reps;
    double cpu_ms = cpu / 1000.0 / reps;

    printf ("%-36s %s", label, df_dtype_name (dtype));
    if (scaled)
      printf ("  (%s %" G_GINT64_FORMAT ")", bc->kind == CASE_CONV2D ? "side" : "tokens", a);
    printf ("  %9.2f ms  %8.2f GFLOP/s", ms, flops / (ms * 1e6));
    if (cpu_device)
      printf ("   cpu %9.2f ms  %8.2f GFLOP/cpu-s", cpu_ms, flops / (cpu_ms * 1e6));
    printf ("\n");
    fflush (stdout);
  }
  ok = TRUE;

out:
  for (int i = 0; i < 4; i++)
    df_tensor_free (t[i]);
  return ok;
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GOptionContext) options = g_option_context_new ("— op GFLOP/s at SD 1.5 shapes");
  g_autofree char *device = NULL;
  g_autofree char *only = NULL;
  int reps = 0;
  gboolean full = FALSE;
  GOptionEntry entries[] = {
    { "device", 'd', 0, G_OPTION_ARG_STRING, &device, "Device index or name", "DEVICE" },
    { "reps", 'r', 0, G_OPTION_ARG_INT, &reps, "Repetitions per case", "N" },
    { "full", 0, 0, G_OPTION_ARG_NONE, &full, "Full SD 1.5 sizes even on a CPU device", NULL },
    { "only", 0, 0, G_OPTION_ARG_STRING, &only, "Only cases whose label contains TEXT", "TEXT" },
    { NULL },
  };
  g_autoptr (DfContext) ctx = NULL;
  const DfDeviceInfo *info;
  gboolean scaled;

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      fprintf (stderr, "%s\n", error->message);
      return 2;
    }
  ctx = df_context_new (device, &error);
  if (ctx == NULL)
    {
      fprintf (stderr, "bench-ops: %s\n", error->message);
      return 1;
    }
  info = df_context_get_info (ctx);
  scaled = info->type == DF_DEVICE_CPU && !full;
  if (reps <= 0)
    reps = info->type == DF_DEVICE_CPU ? 3 : 20;
  printf ("device: %s (%s), %d reps%s\n", info->name, df_device_type_name (info->type), reps,
          scaled ? ", spatial size scaled to 1/4" : "");

  for (int j = 0; j < 2; j++)
    {
      DfDType dtype = j == 0 ? DF_DTYPE_F32 : DF_DTYPE_F16;
      if (dtype == DF_DTYPE_F16 && !info->storage_16bit)
        continue;
      for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
        if ((only == NULL || strstr (cases[i].label, only) != NULL)
            && !run_case (ctx, &cases[i], dtype, reps, scaled, info->type == DF_DEVICE_CPU,
                          &error))
          {
            fprintf (stderr, "bench-ops: %s: %s\n", cases[i].label, error->message);
            return 1;
          }
    }
  return 0;
}
