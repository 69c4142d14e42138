/* df-context.c — the Vulkan instance, device choice, capability probe,
 * queue, command pool and the on-disk pipeline cache.
 *
 * The engine needs Vulkan 1.1 with a compute queue and
 * VK_KHR_push_descriptor (every desktop driver and lavapipe have it).
 * 16-bit storage enables the fp16 path; without it the engine runs fp32.
 * VK_KHR_cooperative_matrix (when this build has kernels for it) and
 * VK_NV_cooperative_matrix, with the Vulkan memory model their kernels'
 * SPIR-V declares, are enabled where the probe finds a fragment shape of
 * the cooperative-matrix kernels of df-ops-linalg.c.  The KHR kernels
 * (SPIR-V 1.5) also need their pipelines created with full subgroups
 * (VK_EXT_subgroup_size_control). */
#include <string.h>

#include "df-private.h"

/* VK_KHR_cooperative_matrix is newer than Debian 12's Vulkan headers
 * (1.3.239): the declarations the probe needs, with the registry's values.
 * The component types and scopes are the NV extension's (same values). */
#ifndef VK_KHR_cooperative_matrix
#define VK_KHR_COOPERATIVE_MATRIX_EXTENSION_NAME "VK_KHR_cooperative_matrix"
#define VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_KHR \
  ((VkStructureType) 1000506000)
#define VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_KHR ((VkStructureType) 1000506001)
#define VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_PROPERTIES_KHR \
  ((VkStructureType) 1000506002)
typedef struct
{
  VkStructureType sType;
  void *pNext;
  uint32_t MSize;
  uint32_t NSize;
  uint32_t KSize;
  VkComponentTypeNV AType;
  VkComponentTypeNV BType;
  VkComponentTypeNV CType;
  VkComponentTypeNV ResultType;
  VkBool32 saturatingAccumulation;
  VkScopeNV scope;
} VkCooperativeMatrixPropertiesKHR;
typedef struct
{
  VkStructureType sType;
  void *pNext;
  VkBool32 cooperativeMatrix;
  VkBool32 cooperativeMatrixRobustBufferAccess;
} VkPhysicalDeviceCooperativeMatrixFeaturesKHR;
typedef struct
{
  VkStructureType sType;
  void *pNext;
  VkShaderStageFlags cooperativeMatrixSupportedStages;
} VkPhysicalDeviceCooperativeMatrixPropertiesKHR;
typedef VkResult (VKAPI_PTR *PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR) (
    VkPhysicalDevice physicalDevice, uint32_t *pPropertyCount,
    VkCooperativeMatrixPropertiesKHR *pProperties);
#endif

const char *
df_device_type_name (DfDeviceType type)
{
  switch (type)
    {
    case DF_DEVICE_DISCRETE:
      return "discrete GPU";
    case DF_DEVICE_INTEGRATED:
      return "integrated GPU";
    case DF_DEVICE_VIRTUAL:
      return "virtual GPU";
    case DF_DEVICE_CPU:
      return "CPU";
    case DF_DEVICE_OTHER:
      break;
    }
  return "other";
}

static DfDeviceType
device_type_from_vk (VkPhysicalDeviceType t)
{
  switch (t)
    {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
      return DF_DEVICE_DISCRETE;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
      return DF_DEVICE_INTEGRATED;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
      return DF_DEVICE_VIRTUAL;
    case VK_PHYSICAL_DEVICE_TYPE_CPU:
      return DF_DEVICE_CPU;
    default:
      return DF_DEVICE_OTHER;
    }
}

/* ------------------------------------------------------------------------
 * Instance
 * ------------------------------------------------------------------------ */

static gboolean
layer_available (const char *name)
{
  uint32_t n = 0;
  g_autofree VkLayerProperties *layers = NULL;

  if (vkEnumerateInstanceLayerProperties (&n, NULL) != VK_SUCCESS)
    return FALSE;
  layers = g_new0 (VkLayerProperties, MAX (n, 1));
  if (vkEnumerateInstanceLayerProperties (&n, layers) != VK_SUCCESS)
    return FALSE;
  for (uint32_t i = 0; i < n; i++)
    if (strcmp (layers[i].layerName, name) == 0)
      return TRUE;
  return FALSE;
}

/* DIFFUSE_VALIDATION=1 turns on the Khronos validation layer when it is
 * installed; its messages become g_warning()s (fatal in tests). */
static gboolean
validation_wanted (void)
{
  const char *v = g_getenv ("DIFFUSE_VALIDATION");

  return v != NULL && strcmp (v, "0") != 0 && layer_available ("VK_LAYER_KHRONOS_validation");
}

static VKAPI_ATTR VkBool32 VKAPI_CALL
validation_message (VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                    VkDebugUtilsMessageTypeFlagsEXT type,
                    const VkDebugUtilsMessengerCallbackDataEXT *data, void *user_data)
{
  if (severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT)
    g_warning ("Vulkan validation: %s", data->pMessage);
  return VK_FALSE;
}

static VkInstance
create_instance (GError **error)
{
  VkApplicationInfo app = {
    .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
    .pApplicationName = "Diffuse",
    .applicationVersion = VK_MAKE_API_VERSION (0, 0, 1, 0),
    .pEngineName = "Diffuse",
    .apiVersion = VK_API_VERSION_1_2,
  };
  const char *layers[] = { "VK_LAYER_KHRONOS_validation" };
  const char *extensions[] = { VK_EXT_DEBUG_UTILS_EXTENSION_NAME };
  /* chained into the instance, so instance creation and all later calls
   * report through it */
  VkDebugUtilsMessengerCreateInfoEXT messenger = {
    .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
    .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT
                       | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
    .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT
                   | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT,
    .pfnUserCallback = validation_message,
  };
  VkInstanceCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
    .pApplicationInfo = &app,
  };
  uint32_t loader_version = VK_API_VERSION_1_0;
  VkInstance instance = VK_NULL_HANDLE;
  VkResult r;

  if (vkEnumerateInstanceVersion (&loader_version) != VK_SUCCESS
      || loader_version < VK_API_VERSION_1_1)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_NO_DEVICE,
                   "The Vulkan loader is too old (Vulkan 1.1 or newer is needed)");
      return VK_NULL_HANDLE;
    }
  if (validation_wanted ())
    {
      info.enabledLayerCount = 1;
      info.ppEnabledLayerNames = layers;
      info.enabledExtensionCount = 1;
      info.ppEnabledExtensionNames = extensions;
      info.pNext = &messenger;
    }
  r = vkCreateInstance (&info, NULL, &instance);
  if (r != VK_SUCCESS)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_NO_DEVICE,
                   "Vulkan is not available (%s): install a Vulkan driver for your GPU, "
                   "or Mesa's lavapipe (mesa-vulkan-drivers)",
                   df_vk_result_name (r));
      return VK_NULL_HANDLE;
    }
  return instance;
}

/* ------------------------------------------------------------------------
 * Capability probe
 * ------------------------------------------------------------------------ */

static gboolean
has_extension (const VkExtensionProperties *exts, uint32_t n, const char *name)
{
  for (uint32_t i = 0; i < n; i++)
    if (strcmp (exts[i].extensionName, name) == 0)
      return TRUE;
  return FALSE;
}

static int
compute_queue_family (VkPhysicalDevice pd, uint32_t *timestamp_bits)
{
  uint32_t n = 0;
  g_autofree VkQueueFamilyProperties *families = NULL;
  int best = -1;

  vkGetPhysicalDeviceQueueFamilyProperties (pd, &n, NULL);
  families = g_new0 (VkQueueFamilyProperties, MAX (n, 1));
  vkGetPhysicalDeviceQueueFamilyProperties (pd, &n, families);
  for (uint32_t i = 0; i < n; i++)
    {
      if (!(families[i].queueFlags & VK_QUEUE_COMPUTE_BIT))
        continue;
      /* prefer a family that also does graphics: it is the main queue on
       * every desktop driver and supports timestamps everywhere */
      if (best < 0 || (families[i].queueFlags & VK_QUEUE_GRAPHICS_BIT))
        {
          best = (int) i;
          if (timestamp_bits)
            *timestamp_bits = families[i].timestampValidBits;
          if (families[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)
            break;
        }
    }
  return best;
}

/* The optional features the engine queries and enables, chained; the
 * cooperative-matrix ones (and the Vulkan memory model their kernels
 * declare) only for the extensions in @coop, on a Vulkan 1.2 device. */
typedef enum
{
  COOP_EXT_KHR = 1 << 0,
  COOP_EXT_NV = 1 << 1,
} CoopExtensions;

typedef struct
{
  VkPhysicalDeviceShaderFloat16Int8Features f16;
  VkPhysicalDevice16BitStorageFeatures storage16;
  VkPhysicalDeviceCooperativeMatrixFeaturesKHR coop_khr;
  VkPhysicalDeviceSubgroupSizeControlFeaturesEXT subgroup_size;
  VkPhysicalDeviceCooperativeMatrixFeaturesNV coop_nv;
  VkPhysicalDeviceVulkanMemoryModelFeatures model;
  VkPhysicalDeviceFeatures2 features;
} FeatureChain;

static void
chain_push (VkPhysicalDeviceFeatures2 *features, void *link)
{
  VkBaseOutStructure *base = link;

  base->pNext = features->pNext;
  features->pNext = base;
}

static void
feature_chain_init (FeatureChain *c, CoopExtensions coop)
{
  *c = (FeatureChain){
    .f16 = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES },
    .storage16 = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES },
    .coop_khr = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_KHR },
    .subgroup_size = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES_EXT },
    .coop_nv = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV },
    .model = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES },
    .features = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2 },
  };
  chain_push (&c->features, &c->f16);
  chain_push (&c->features, &c->storage16);
  if (coop & COOP_EXT_KHR)
    {
      chain_push (&c->features, &c->coop_khr);
      chain_push (&c->features, &c->subgroup_size);
    }
  if (coop & COOP_EXT_NV)
    chain_push (&c->features, &c->coop_nv);
  if (coop != 0)
    chain_push (&c->features, &c->model);
}

/* A fragment shape of the engine's kernels: @size³, fp16 A and B, fp32 C
 * and result, subgroup scope (the component types and scopes of the two
 * extensions share their values). */
static gboolean
shape_fits (uint32_t size, uint32_t m, uint32_t n, uint32_t k, VkComponentTypeNV a,
            VkComponentTypeNV b, VkComponentTypeNV c, VkComponentTypeNV d, VkScopeNV scope)
{
  return m == size && n == size && k == size && a == VK_COMPONENT_TYPE_FLOAT16_NV
         && b == VK_COMPONENT_TYPE_FLOAT16_NV && c == VK_COMPONENT_TYPE_FLOAT32_NV
         && d == VK_COMPONENT_TYPE_FLOAT32_NV && scope == VK_SCOPE_SUBGROUP_NV;
}

/* A cooperative-matrix extension (@ext: one of COOP_EXT_*) as the
 * engine's kernels use it: the features (queried in @chain: the matrices
 * and the Vulkan memory model their SPIR-V declares), compute shaders,
 * and a fragment shape of shape_fits() with kernels for the extension:
 * returns the fragment size (16 first, then 8 for KHR), 0 when none. */
static uint32_t
probe_cooperative_matrix (VkInstance instance, VkPhysicalDevice pd, const FeatureChain *chain,
                          CoopExtensions ext)
{
  gboolean khr = ext == COOP_EXT_KHR;
  PFN_vkVoidFunction get_shapes = vkGetInstanceProcAddr (
      instance, khr ? "vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR"
                    : "vkGetPhysicalDeviceCooperativeMatrixPropertiesNV");
  /* the two properties structures share their layout */
  VkPhysicalDeviceCooperativeMatrixPropertiesKHR stages = {
    .sType = khr ? VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_PROPERTIES_KHR
                 : VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_PROPERTIES_NV,
  };
  VkPhysicalDeviceProperties2 props = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
    .pNext = &stages,
  };
  gboolean enabled = khr ? chain->coop_khr.cooperativeMatrix
                              && chain->subgroup_size.computeFullSubgroups
                         : chain->coop_nv.cooperativeMatrix;
  static const uint32_t sizes[] = { 16, 8 };
  uint32_t n = 0;

  if (get_shapes == NULL)
    return 0;
  vkGetPhysicalDeviceProperties2 (pd, &props);
  if (!enabled || !chain->model.vulkanMemoryModel
      || !(stages.cooperativeMatrixSupportedStages & VK_SHADER_STAGE_COMPUTE_BIT))
    return 0;

  if (khr)
    {
      PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR get =
          (PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR) get_shapes;
      g_autofree VkCooperativeMatrixPropertiesKHR *shapes = NULL;

      if (get (pd, &n, NULL) != VK_SUCCESS || n == 0)
        return 0;
      shapes = g_new0 (VkCooperativeMatrixPropertiesKHR, n);
      for (uint32_t i = 0; i < n; i++)
        shapes[i].sType = VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_KHR;
      if (get (pd, &n, shapes) < VK_SUCCESS)
        return 0;
      for (guint z = 0; z < G_N_ELEMENTS (sizes); z++)
        for (uint32_t i = 0; i < n; i++)
          if (shape_fits (sizes[z], shapes[i].MSize, shapes[i].NSize, shapes[i].KSize,
                          (VkComponentTypeNV) shapes[i].AType,
                          (VkComponentTypeNV) shapes[i].BType,
                          (VkComponentTypeNV) shapes[i].CType,
                          (VkComponentTypeNV) shapes[i].ResultType, (VkScopeNV) shapes[i].scope)
              && !shapes[i].saturatingAccumulation)
            return sizes[z];
    }
  else
    {
      PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV get =
          (PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV) get_shapes;
      g_autofree VkCooperativeMatrixPropertiesNV *shapes = NULL;

      if (get (pd, &n, NULL) != VK_SUCCESS || n == 0)
        return 0;
      shapes = g_new0 (VkCooperativeMatrixPropertiesNV, n);
      for (uint32_t i = 0; i < n; i++)
        shapes[i].sType = VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_NV;
      if (get (pd, &n, shapes) < VK_SUCCESS)
        return 0;
      for (uint32_t i = 0; i < n; i++)
        if (shape_fits (16, shapes[i].MSize, shapes[i].NSize, shapes[i].KSize, shapes[i].AType,
                        shapes[i].BType, shapes[i].CType, shapes[i].DType, shapes[i].scope))
          return 16;
    }
  return 0;
}

static void
probe_device (VkInstance instance, VkPhysicalDevice pd, DfDeviceInfo *info)
{
  VkPhysicalDeviceDriverProperties driver = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES,
  };
  VkPhysicalDeviceSubgroupProperties subgroup = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES,
    .pNext = &driver,
  };
  VkPhysicalDeviceProperties2 props = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
    .pNext = &subgroup,
  };
  FeatureChain chain;
  CoopExtensions coop = 0;
  VkPhysicalDeviceMemoryBudgetPropertiesEXT budget = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_BUDGET_PROPERTIES_EXT,
  };
  VkPhysicalDeviceMemoryProperties2 mem = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_PROPERTIES_2,
  };
  uint32_t n_ext = 0, ts_bits = 0;
  g_autofree VkExtensionProperties *exts = NULL;
  const VkPhysicalDeviceLimits *limits = &props.properties.limits;

  vkEnumerateDeviceExtensionProperties (pd, NULL, &n_ext, NULL);
  exts = g_new0 (VkExtensionProperties, MAX (n_ext, 1));
  vkEnumerateDeviceExtensionProperties (pd, NULL, &n_ext, exts);

  vkGetPhysicalDeviceProperties2 (pd, &props);
  if (props.properties.apiVersion >= VK_API_VERSION_1_2)
    {
      /* the KHR kernels exist only when glslang could write them */
      if (DF_SHADERS_COOP_KHR
          && has_extension (exts, n_ext, VK_KHR_COOPERATIVE_MATRIX_EXTENSION_NAME)
          && has_extension (exts, n_ext, VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME))
        coop |= COOP_EXT_KHR;
      if (has_extension (exts, n_ext, VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME))
        coop |= COOP_EXT_NV;
    }
  feature_chain_init (&chain, coop);
  vkGetPhysicalDeviceFeatures2 (pd, &chain.features);

  g_strlcpy (info->name, props.properties.deviceName, sizeof info->name);
  info->type = device_type_from_vk (props.properties.deviceType);
  info->vendor_id = props.properties.vendorID;
  info->device_id = props.properties.deviceID;
  info->api_version = props.properties.apiVersion;
  if (driver.driverName[0])
    g_snprintf (info->driver, sizeof info->driver, "%s %s", driver.driverName,
                driver.driverInfo);

  info->fp16_arithmetic = chain.f16.shaderFloat16;
  info->storage_16bit = chain.storage16.storageBuffer16BitAccess;
  if (info->fp16_arithmetic && info->storage_16bit)
    {
      if (coop & COOP_EXT_KHR)
        info->cooperative_matrix_size =
            probe_cooperative_matrix (instance, pd, &chain, COOP_EXT_KHR);
      info->cooperative_matrix = info->cooperative_matrix_size != 0;
      info->cooperative_matrix_nv =
          (coop & COOP_EXT_NV) && probe_cooperative_matrix (instance, pd, &chain, COOP_EXT_NV);
    }
  info->push_descriptor = has_extension (exts, n_ext, VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME);
  info->memory_budget = has_extension (exts, n_ext, VK_EXT_MEMORY_BUDGET_EXTENSION_NAME);
  info->subgroup_size = subgroup.subgroupSize;
  info->max_shared_memory = limits->maxComputeSharedMemorySize;
  info->max_storage_buffer_range = limits->maxStorageBufferRange;
  info->max_workgroup_invocations = limits->maxComputeWorkGroupInvocations;
  for (int i = 0; i < 3; i++)
    info->max_workgroup_count[i] = limits->maxComputeWorkGroupCount[i];
  info->min_storage_buffer_offset_alignment = limits->minStorageBufferOffsetAlignment;

  if (compute_queue_family (pd, &ts_bits) >= 0 && ts_bits > 0)
    info->timestamp_period_ns = limits->timestampPeriod;

  if (info->memory_budget)
    mem.pNext = &budget;
  vkGetPhysicalDeviceMemoryProperties2 (pd, &mem);
  for (uint32_t h = 0; h < mem.memoryProperties.memoryHeapCount; h++)
    {
      const VkMemoryHeap *heap = &mem.memoryProperties.memoryHeaps[h];
      if (!(heap->flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT))
        continue;
      info->device_local_bytes += heap->size;
      info->device_local_budget += info->memory_budget ? budget.heapBudget[h] : heap->size;
    }

  info->usable = TRUE;
  if (props.properties.apiVersion < VK_API_VERSION_1_1)
    g_snprintf (info->unusable_reason, sizeof info->unusable_reason,
                "Vulkan 1.1 or newer is needed");
  else if (compute_queue_family (pd, NULL) < 0)
    g_snprintf (info->unusable_reason, sizeof info->unusable_reason, "no compute queue");
  else if (!info->push_descriptor)
    g_snprintf (info->unusable_reason, sizeof info->unusable_reason,
                "VK_KHR_push_descriptor is missing");
  if (info->unusable_reason[0])
    info->usable = FALSE;
}

typedef struct
{
  VkPhysicalDevice pd;
  DfDeviceInfo info;
} Candidate;

static int
candidate_compare (gconstpointer a, gconstpointer b)
{
  const Candidate *ca = a, *cb = b;

  if (ca->info.type != cb->info.type)
    return (int) ca->info.type - (int) cb->info.type;
  return 0; /* stable sort keeps the driver's order */
}

/* All devices of an instance, in preference order (stable by type). */
static GArray *
list_candidates (VkInstance instance, GError **error)
{
  uint32_t n = 0;
  g_autofree VkPhysicalDevice *pds = NULL;
  GArray *out;
  VkResult r;

  r = vkEnumeratePhysicalDevices (instance, &n, NULL);
  if (!df_vk_check (r, error))
    return NULL;
  pds = g_new0 (VkPhysicalDevice, MAX (n, 1));
  r = vkEnumeratePhysicalDevices (instance, &n, pds);
  if (!df_vk_check (r, error))
    return NULL;
  if (n == 0)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_NO_DEVICE,
                   "No Vulkan device found: install a Vulkan driver for your GPU, "
                   "or Mesa's lavapipe (mesa-vulkan-drivers)");
      return NULL;
    }

  out = g_array_sized_new (FALSE, TRUE, sizeof (Candidate), n);
  for (uint32_t i = 0; i < n; i++)
    {
      Candidate c = { .pd = pds[i] };
      probe_device (instance, pds[i], &c.info);
      g_array_append_val (out, c);
    }
  /* g_array_sort is not stable; insertion sort keeps equal types in order */
  for (guint i = 1; i < out->len; i++)
    for (guint j = i; j > 0; j--)
      {
        Candidate *a = &g_array_index (out, Candidate, j - 1);
        Candidate *b = &g_array_index (out, Candidate, j);
        Candidate tmp;
        if (candidate_compare (a, b) <= 0)
          break;
        tmp = *a;
        *a = *b;
        *b = tmp;
      }
  for (guint i = 0; i < out->len; i++)
    g_array_index (out, Candidate, i).info.index = (int) i;
  return out;
}

GArray *
df_device_list (GError **error)
{
  VkInstance instance = create_instance (error);
  g_autoptr (GArray) candidates = NULL;
  GArray *out;

  if (instance == VK_NULL_HANDLE)
    return NULL;
  candidates = list_candidates (instance, error);
  vkDestroyInstance (instance, NULL);
  if (candidates == NULL)
    return NULL;

  out = g_array_sized_new (FALSE, TRUE, sizeof (DfDeviceInfo), candidates->len);
  for (guint i = 0; i < candidates->len; i++)
    g_array_append_val (out, g_array_index (candidates, Candidate, i).info);
  return out;
}

static const Candidate *
choose_device (GArray *candidates, const char *selector, GError **error)
{
  if (selector == NULL || *selector == '\0')
    selector = g_getenv ("DIFFUSE_DEVICE");

  if (selector != NULL && *selector != '\0')
    {
      guint64 index;
      const Candidate *found = NULL;

      if (g_ascii_string_to_unsigned (selector, 10, 0, G_MAXUINT, &index, NULL))
        {
          if (index < candidates->len)
            found = &g_array_index (candidates, Candidate, index);
        }
      else
        {
          g_autofree char *needle = g_utf8_casefold (selector, -1);
          for (guint i = 0; i < candidates->len && !found; i++)
            {
              const Candidate *c = &g_array_index (candidates, Candidate, i);
              g_autofree char *hay = g_utf8_casefold (c->info.name, -1);
              if (strstr (hay, needle))
                found = c;
            }
        }
      if (found == NULL)
        {
          g_set_error (error, DF_ERROR, DF_ERROR_NO_DEVICE,
                       "No Vulkan device matches “%s” (see “diffuse-cli devices”)", selector);
          return NULL;
        }
      if (!found->info.usable)
        {
          g_set_error (error, DF_ERROR, DF_ERROR_UNSUPPORTED_DEVICE,
                       "The Vulkan device “%s” cannot run Diffuse: %s", found->info.name,
                       found->info.unusable_reason);
          return NULL;
        }
      return found;
    }

  for (guint i = 0; i < candidates->len; i++)
    if (g_array_index (candidates, Candidate, i).info.usable)
      return &g_array_index (candidates, Candidate, i);

  {
    const Candidate *first = &g_array_index (candidates, Candidate, 0);
    g_set_error (error, DF_ERROR, DF_ERROR_UNSUPPORTED_DEVICE,
                 "No Vulkan device can run Diffuse (“%s”: %s)", first->info.name,
                 first->info.unusable_reason);
  }
  return NULL;
}

/* ------------------------------------------------------------------------
 * Pipeline cache on disk: $XDG_CACHE_HOME/diffuse/pipelines-<ids>.bin
 * ------------------------------------------------------------------------ */

static void
pipeline_cache_open (DfContext *ctx)
{
  VkPipelineCacheCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
  };
  g_autofree char *data = NULL;
  gsize len = 0;

  ctx->pipeline_cache_path = g_strdup_printf (
      "%s/diffuse/pipelines-%04x-%04x-%08x.bin", g_get_user_cache_dir (), ctx->info.vendor_id,
      ctx->info.device_id, ctx->info.api_version);
  if (g_file_get_contents (ctx->pipeline_cache_path, &data, &len, NULL))
    {
      /* the driver checks the header (vendor, device, cache UUID) and
       * ignores data that does not match */
      info.initialDataSize = len;
      info.pInitialData = data;
    }
  if (vkCreatePipelineCache (ctx->device, &info, NULL, &ctx->pipeline_cache) != VK_SUCCESS)
    {
      info.initialDataSize = 0;
      info.pInitialData = NULL;
      if (vkCreatePipelineCache (ctx->device, &info, NULL, &ctx->pipeline_cache) != VK_SUCCESS)
        ctx->pipeline_cache = VK_NULL_HANDLE;
    }
}

static void
pipeline_cache_save (DfContext *ctx)
{
  size_t len = 0;
  g_autofree char *data = NULL;
  g_autofree char *dir = NULL;
  g_autoptr (GError) error = NULL;

  if (ctx->pipeline_cache == VK_NULL_HANDLE || ctx->pipeline_cache_path == NULL)
    return;
  if (vkGetPipelineCacheData (ctx->device, ctx->pipeline_cache, &len, NULL) != VK_SUCCESS
      || len == 0)
    return;
  data = g_malloc (len);
  if (vkGetPipelineCacheData (ctx->device, ctx->pipeline_cache, &len, data) != VK_SUCCESS)
    return;
  dir = g_path_get_dirname (ctx->pipeline_cache_path);
  g_mkdir_with_parents (dir, 0755);
  /* g_file_set_contents writes a temporary file and renames it */
  if (!g_file_set_contents (ctx->pipeline_cache_path, data, (gssize) len, &error))
    g_debug ("Could not save the pipeline cache: %s", error->message);
}

/* ------------------------------------------------------------------------
 * Context
 * ------------------------------------------------------------------------ */

static void
pipeline_free (gpointer data)
{
  DfPipeline *p = data;

  (void) p;
  /* destroyed in df_context_free, which has the device */
}

DfContext *
df_context_new (const char *selector, GError **error)
{
  g_autoptr (DfContext) ctx = g_new0 (DfContext, 1);
  g_autoptr (GArray) candidates = NULL;
  const Candidate *chosen;
  float priority = 1.0f;
  FeatureChain chain;
  VkDeviceQueueCreateInfo queue_info = {
    .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
    .queueCount = 1,
    .pQueuePriorities = &priority,
  };
  const char *extensions[5];
  uint32_t n_extensions = 0;
  VkDeviceCreateInfo device_info = {
    .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
    .pNext = &chain.features,
    .queueCreateInfoCount = 1,
    .pQueueCreateInfos = &queue_info,
    .ppEnabledExtensionNames = extensions,
  };
  VkCommandPoolCreateInfo pool_info = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
    .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
  };

  g_mutex_init (&ctx->lock);
  ctx->blocks = g_ptr_array_new ();
  ctx->pipelines = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, pipeline_free);

  ctx->instance = create_instance (error);
  if (ctx->instance == VK_NULL_HANDLE)
    return NULL;
  candidates = list_candidates (ctx->instance, error);
  if (candidates == NULL)
    return NULL;
  chosen = choose_device (candidates, selector, error);
  if (chosen == NULL)
    return NULL;
  ctx->physical = chosen->pd;
  ctx->info = chosen->info;
  ctx->queue_family = (uint32_t) compute_queue_family (ctx->physical, NULL);

  /* enable only what the probe found */
  feature_chain_init (&chain, (ctx->info.cooperative_matrix ? COOP_EXT_KHR : 0)
                                 | (ctx->info.cooperative_matrix_nv ? COOP_EXT_NV : 0));
  chain.storage16.storageBuffer16BitAccess = ctx->info.storage_16bit;
  chain.f16.shaderFloat16 = ctx->info.fp16_arithmetic;
  chain.coop_khr.cooperativeMatrix = ctx->info.cooperative_matrix;
  chain.subgroup_size.computeFullSubgroups = ctx->info.cooperative_matrix;
  chain.coop_nv.cooperativeMatrix = ctx->info.cooperative_matrix_nv;
  chain.model.vulkanMemoryModel = ctx->info.cooperative_matrix || ctx->info.cooperative_matrix_nv;
  extensions[n_extensions++] = VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME;
  if (ctx->info.memory_budget)
    extensions[n_extensions++] = VK_EXT_MEMORY_BUDGET_EXTENSION_NAME;
  if (ctx->info.cooperative_matrix)
    {
      extensions[n_extensions++] = VK_KHR_COOPERATIVE_MATRIX_EXTENSION_NAME;
      extensions[n_extensions++] = VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME;
    }
  if (ctx->info.cooperative_matrix_nv)
    extensions[n_extensions++] = VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME;
  device_info.enabledExtensionCount = n_extensions;
  queue_info.queueFamilyIndex = ctx->queue_family;

  if (!df_vk_check (vkCreateDevice (ctx->physical, &device_info, NULL, &ctx->device), error))
    {
      g_prefix_error (error, "Could not open “%s”: ", ctx->info.name);
      return NULL;
    }
  vkGetDeviceQueue (ctx->device, ctx->queue_family, 0, &ctx->queue);
  ctx->push_descriptor_set = (PFN_vkCmdPushDescriptorSetKHR) vkGetDeviceProcAddr (
      ctx->device, "vkCmdPushDescriptorSetKHR");
  if (ctx->push_descriptor_set == NULL)
    {
      g_set_error (error, DF_ERROR, DF_ERROR_UNSUPPORTED_DEVICE,
                   "The Vulkan device “%s” lacks vkCmdPushDescriptorSetKHR", ctx->info.name);
      return NULL;
    }

  pool_info.queueFamilyIndex = ctx->queue_family;
  if (!df_vk_check (vkCreateCommandPool (ctx->device, &pool_info, NULL, &ctx->pool), error))
    return NULL;

  if (!df_memory_init (ctx, error))
    return NULL;
  pipeline_cache_open (ctx);
  return g_steal_pointer (&ctx);
}

void
df_context_free (DfContext *ctx)
{
  GHashTableIter iter;
  gpointer value;

  if (ctx == NULL)
    return;
  if (ctx->device != VK_NULL_HANDLE)
    {
      vkDeviceWaitIdle (ctx->device);
      pipeline_cache_save (ctx);
      g_hash_table_iter_init (&iter, ctx->pipelines);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        {
          DfPipeline *p = value;
          vkDestroyPipeline (ctx->device, p->pipeline, NULL);
          vkDestroyPipelineLayout (ctx->device, p->layout, NULL);
          vkDestroyDescriptorSetLayout (ctx->device, p->set_layout, NULL);
          g_free (p);
        }
      g_hash_table_remove_all (ctx->pipelines);
      if (ctx->pipeline_cache != VK_NULL_HANDLE)
        vkDestroyPipelineCache (ctx->device, ctx->pipeline_cache, NULL);
      df_memory_cleanup (ctx);
      if (ctx->pool != VK_NULL_HANDLE)
        vkDestroyCommandPool (ctx->device, ctx->pool, NULL);
      vkDestroyDevice (ctx->device, NULL);
    }
  if (ctx->instance != VK_NULL_HANDLE)
    vkDestroyInstance (ctx->instance, NULL);
  g_clear_pointer (&ctx->pipelines, g_hash_table_unref);
  g_clear_pointer (&ctx->blocks, g_ptr_array_unref);
  g_free (ctx->pipeline_cache_path);
  g_mutex_clear (&ctx->lock);
  g_free (ctx);
}

const DfDeviceInfo *
df_context_get_info (DfContext *ctx)
{
  return &ctx->info;
}

/* ------------------------------------------------------------------------
 * One-off copies
 * ------------------------------------------------------------------------ */

gboolean
df_context_copy_buffer (DfContext *ctx, VkBuffer src, VkDeviceSize src_offset, VkBuffer dst,
                        VkDeviceSize dst_offset, VkDeviceSize size, GError **error)
{
  VkCommandBufferAllocateInfo alloc = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
    .commandPool = ctx->pool,
    .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
    .commandBufferCount = 1,
  };
  VkCommandBufferBeginInfo begin = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
    .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
  };
  VkBufferCopy region = { .srcOffset = src_offset, .dstOffset = dst_offset, .size = size };
  VkMemoryBarrier barrier = {
    .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
    .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
    .dstAccessMask = VK_ACCESS_HOST_READ_BIT | VK_ACCESS_SHADER_READ_BIT,
  };
  VkSubmitInfo submit = { .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1 };
  VkFenceCreateInfo fence_info = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
  VkCommandBuffer cb = VK_NULL_HANDLE;
  VkFence fence = VK_NULL_HANDLE;
  gboolean ok = FALSE;

  if (!df_vk_check (vkAllocateCommandBuffers (ctx->device, &alloc, &cb), error))
    return FALSE;
  if (!df_vk_check (vkCreateFence (ctx->device, &fence_info, NULL, &fence), error))
    goto out;
  vkBeginCommandBuffer (cb, &begin);
  vkCmdCopyBuffer (cb, src, dst, 1, &region);
  vkCmdPipelineBarrier (cb, VK_PIPELINE_STAGE_TRANSFER_BIT,
                        VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1,
                        &barrier, 0, NULL, 0, NULL);
  if (!df_vk_check (vkEndCommandBuffer (cb), error))
    goto out;
  submit.pCommandBuffers = &cb;
  if (!df_vk_check (vkQueueSubmit (ctx->queue, 1, &submit, fence), error))
    goto out;
  ok = df_vk_check (vkWaitForFences (ctx->device, 1, &fence, VK_TRUE, UINT64_MAX), error);
out:
  if (fence != VK_NULL_HANDLE)
    vkDestroyFence (ctx->device, fence, NULL);
  vkFreeCommandBuffers (ctx->device, ctx->pool, 1, &cb);
  return ok;
}
