/* A stand-in for NVIDIA's libnvidia-ml.so.1 (no GPU exists on the test hosts).
 *
 * It exports the NVML C functions the node calls, with NVML's signatures and return codes, and
 * describes the GPUs given in the environment:
 *   NVML_STANDIN_GPUS    "name|uuid|total_bytes|major|minor;..."   (empty: no GPUs)
 *   NVML_STANDIN_CUDA    the driver's CUDA version as NVML encodes it (12080 = 12.8)
 *   NVML_STANDIN_DRIVER  the driver version string
 *   NVML_STANDIN_INIT    a return code for nvmlInit (9 = NVML_ERROR_DRIVER_NOT_LOADED)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { unsigned long long total, free, used; } nvmlMemory_t;
typedef struct { char name[96]; char uuid[96]; unsigned long long total; int major, minor; } gpu_t;

static gpu_t gpus[16];
static unsigned int count;
static int initialised;

static void load(void) {
    const char *spec = getenv("NVML_STANDIN_GPUS");
    count = 0;
    if (!spec) return;
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", spec);
    for (char *save = NULL, *item = strtok_r(buf, ";", &save); item && count < 16; item = strtok_r(NULL, ";", &save)) {
        gpu_t *g = &gpus[count];
        if (sscanf(item, "%95[^|]|%95[^|]|%llu|%d|%d", g->name, g->uuid, &g->total, &g->major, &g->minor) == 5) count++;
    }
}

static int get(void *handle, gpu_t **out) {
    unsigned long index = (unsigned long)handle;
    if (!initialised) return 1;                   /* NVML_ERROR_UNINITIALIZED */
    if (index == 0 || index > count) return 2;    /* NVML_ERROR_INVALID_ARGUMENT */
    *out = &gpus[index - 1];
    return 0;
}

int nvmlInitWithFlags(unsigned int flags) {
    (void)flags;
    const char *fail = getenv("NVML_STANDIN_INIT");
    if (fail && atoi(fail)) return atoi(fail);
    load();
    initialised = 1;
    return 0;
}
int nvmlInit_v2(void) { return nvmlInitWithFlags(0); }
int nvmlShutdown(void) { initialised = 0; return 0; }
const char *nvmlErrorString(int result) {
    switch (result) {
        case 0: return "Success";
        case 9: return "Driver Not Loaded";
        default: return "Unknown Error";
    }
}
int nvmlDeviceGetCount_v2(unsigned int *n) { if (!initialised) return 1; *n = count; return 0; }
int nvmlDeviceGetHandleByIndex_v2(unsigned int index, void **handle) {
    if (!initialised) return 1;
    if (index >= count) return 2;
    *handle = (void *)(unsigned long)(index + 1);
    return 0;
}
int nvmlDeviceGetName(void *handle, char *name, unsigned int length) {
    gpu_t *g; int rc = get(handle, &g); if (rc) return rc;
    snprintf(name, length, "%s", g->name); return 0;
}
int nvmlDeviceGetUUID(void *handle, char *uuid, unsigned int length) {
    gpu_t *g; int rc = get(handle, &g); if (rc) return rc;
    snprintf(uuid, length, "%s", g->uuid); return 0;
}
int nvmlDeviceGetMemoryInfo(void *handle, nvmlMemory_t *memory) {
    gpu_t *g; int rc = get(handle, &g); if (rc) return rc;
    memory->total = g->total; memory->used = g->total / 10; memory->free = g->total - memory->used; return 0;
}
int nvmlDeviceGetCudaComputeCapability(void *handle, int *major, int *minor) {
    gpu_t *g; int rc = get(handle, &g); if (rc) return rc;
    *major = g->major; *minor = g->minor; return 0;
}
int nvmlSystemGetCudaDriverVersion_v2(int *version) {
    if (!initialised) return 1;
    const char *v = getenv("NVML_STANDIN_CUDA");
    *version = v ? atoi(v) : 12080; return 0;
}
int nvmlSystemGetDriverVersion(char *version, unsigned int length) {
    if (!initialised) return 1;
    const char *v = getenv("NVML_STANDIN_DRIVER");
    snprintf(version, length, "%s", v ? v : "570.00"); return 0;
}
