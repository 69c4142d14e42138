/* df-error.c — the engine's error domain. */
#include "df-private.h"

G_DEFINE_QUARK (df-error-quark, df_error)

const char *
df_vk_result_name (VkResult r)
{
  switch (r)
    {
#define CASE(x) case x: return #x
      CASE (VK_SUCCESS);
      CASE (VK_NOT_READY);
      CASE (VK_TIMEOUT);
      CASE (VK_INCOMPLETE);
      CASE (VK_ERROR_OUT_OF_HOST_MEMORY);
      CASE (VK_ERROR_OUT_OF_DEVICE_MEMORY);
      CASE (VK_ERROR_INITIALIZATION_FAILED);
      CASE (VK_ERROR_DEVICE_LOST);
      CASE (VK_ERROR_MEMORY_MAP_FAILED);
      CASE (VK_ERROR_LAYER_NOT_PRESENT);
      CASE (VK_ERROR_EXTENSION_NOT_PRESENT);
      CASE (VK_ERROR_FEATURE_NOT_PRESENT);
      CASE (VK_ERROR_INCOMPATIBLE_DRIVER);
      CASE (VK_ERROR_TOO_MANY_OBJECTS);
      CASE (VK_ERROR_FORMAT_NOT_SUPPORTED);
      CASE (VK_ERROR_FRAGMENTED_POOL);
      CASE (VK_ERROR_OUT_OF_POOL_MEMORY);
#undef CASE
    default:
      return "VkResult";
    }
}

gboolean
df_vk_check_impl (VkResult r, const char *where, GError **error)
{
  DfError code;

  if (r >= 0)
    return TRUE;

  switch (r)
    {
    case VK_ERROR_OUT_OF_HOST_MEMORY:
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
    case VK_ERROR_OUT_OF_POOL_MEMORY:
    case VK_ERROR_FRAGMENTED_POOL:
      code = DF_ERROR_OUT_OF_DEVICE_MEMORY;
      break;
    case VK_ERROR_DEVICE_LOST:
      code = DF_ERROR_DEVICE_LOST;
      break;
    case VK_ERROR_INCOMPATIBLE_DRIVER:
    case VK_ERROR_INITIALIZATION_FAILED:
      code = DF_ERROR_NO_DEVICE;
      break;
    case VK_ERROR_EXTENSION_NOT_PRESENT:
    case VK_ERROR_FEATURE_NOT_PRESENT:
      code = DF_ERROR_UNSUPPORTED_DEVICE;
      break;
    default:
      code = DF_ERROR_FAILED;
      break;
    }
  g_set_error (error, DF_ERROR, code, "Vulkan error %s (%d) in %s", df_vk_result_name (r), r,
               where);
  return FALSE;
}
