// CLShim implementation. See include/clshim.h for the contract of each function.
#include "clshim.h"

#include <clblast_c.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

// Profiled launches waiting to be read: events and the names they belong to.
#define LM_PROFILE_PENDING 4096
// Slots of the hash table from a name to its place in `names`: a power of two, at least
// twice LM_PROFILE_NAMES, so probing always meets an empty slot.
#define LM_PROFILE_TABLE 8192

struct lm_device {
    cl_device_id id;
    cl_context context;
    cl_command_queue queue;
    int profiling;
    cl_event pending[LM_PROFILE_PENDING];
    int pending_name[LM_PROFILE_PENDING];
    int pending_count;
    char names[LM_PROFILE_NAMES][LM_PROFILE_NAME_LENGTH];
    uint64_t total_ns[LM_PROFILE_NAMES];
    uint64_t calls[LM_PROFILE_NAMES];
    int name_count;
    int name_table[LM_PROFILE_TABLE];   // 1 + an index into names; 0: empty
};

static void drain_profile(lm_device *device);

static atomic_long live_objects = 0;

long lm_live_objects(void) { return atomic_load(&live_objects); }
static void counted(void) { atomic_fetch_add(&live_objects, 1); }
static void uncounted(void) { atomic_fetch_sub(&live_objects, 1); }

// MARK: - Status names

const char *lm_status_name(int status) {
    switch (status) {
    case 0: return "CL_SUCCESS";
    case -1: return "CL_DEVICE_NOT_FOUND";
    case -2: return "CL_DEVICE_NOT_AVAILABLE";
    case -3: return "CL_COMPILER_NOT_AVAILABLE";
    case -4: return "CL_MEM_OBJECT_ALLOCATION_FAILURE";
    case -5: return "CL_OUT_OF_RESOURCES";
    case -6: return "CL_OUT_OF_HOST_MEMORY";
    case -7: return "CL_PROFILING_INFO_NOT_AVAILABLE";
    case -8: return "CL_MEM_COPY_OVERLAP";
    case -9: return "CL_IMAGE_FORMAT_MISMATCH";
    case -10: return "CL_IMAGE_FORMAT_NOT_SUPPORTED";
    case -11: return "CL_BUILD_PROGRAM_FAILURE";
    case -12: return "CL_MAP_FAILURE";
    case -13: return "CL_MISALIGNED_SUB_BUFFER_OFFSET";
    case -14: return "CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST";
    case -15: return "CL_COMPILE_PROGRAM_FAILURE";
    case -16: return "CL_LINKER_NOT_AVAILABLE";
    case -17: return "CL_LINK_PROGRAM_FAILURE";
    case -18: return "CL_DEVICE_PARTITION_FAILED";
    case -19: return "CL_KERNEL_ARG_INFO_NOT_AVAILABLE";
    case -30: return "CL_INVALID_VALUE";
    case -31: return "CL_INVALID_DEVICE_TYPE";
    case -32: return "CL_INVALID_PLATFORM";
    case -33: return "CL_INVALID_DEVICE";
    case -34: return "CL_INVALID_CONTEXT";
    case -35: return "CL_INVALID_QUEUE_PROPERTIES";
    case -36: return "CL_INVALID_COMMAND_QUEUE";
    case -37: return "CL_INVALID_HOST_PTR";
    case -38: return "CL_INVALID_MEM_OBJECT";
    case -39: return "CL_INVALID_IMAGE_FORMAT_DESCRIPTOR";
    case -40: return "CL_INVALID_IMAGE_SIZE";
    case -41: return "CL_INVALID_SAMPLER";
    case -42: return "CL_INVALID_BINARY";
    case -43: return "CL_INVALID_BUILD_OPTIONS";
    case -44: return "CL_INVALID_PROGRAM";
    case -45: return "CL_INVALID_PROGRAM_EXECUTABLE";
    case -46: return "CL_INVALID_KERNEL_NAME";
    case -47: return "CL_INVALID_KERNEL_DEFINITION";
    case -48: return "CL_INVALID_KERNEL";
    case -49: return "CL_INVALID_ARG_INDEX";
    case -50: return "CL_INVALID_ARG_VALUE";
    case -51: return "CL_INVALID_ARG_SIZE";
    case -52: return "CL_INVALID_KERNEL_ARGS";
    case -53: return "CL_INVALID_WORK_DIMENSION";
    case -54: return "CL_INVALID_WORK_GROUP_SIZE";
    case -55: return "CL_INVALID_WORK_ITEM_SIZE";
    case -56: return "CL_INVALID_GLOBAL_OFFSET";
    case -57: return "CL_INVALID_EVENT_WAIT_LIST";
    case -58: return "CL_INVALID_EVENT";
    case -59: return "CL_INVALID_OPERATION";
    case -60: return "CL_INVALID_GL_OBJECT";
    case -61: return "CL_INVALID_BUFFER_SIZE";
    case -62: return "CL_INVALID_MIP_LEVEL";
    case -63: return "CL_INVALID_GLOBAL_WORK_SIZE";
    case -64: return "CL_INVALID_PROPERTY";
    case -65: return "CL_INVALID_IMAGE_DESCRIPTOR";
    case -66: return "CL_INVALID_COMPILER_OPTIONS";
    case -67: return "CL_INVALID_LINKER_OPTIONS";
    case -68: return "CL_INVALID_DEVICE_PARTITION_COUNT";
    case -69: return "CL_INVALID_PIPE_SIZE";
    case -70: return "CL_INVALID_DEVICE_QUEUE";
    case -71: return "CL_INVALID_SPEC_ID";
    case -72: return "CL_MAX_SIZE_RESTRICTION_EXCEEDED";
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR";
    case -1024: return "CLBlastNotImplemented";
    case -1022: return "CLBlastInvalidMatrixA";
    case -1021: return "CLBlastInvalidMatrixB";
    case -1020: return "CLBlastInvalidMatrixC";
    case -1019: return "CLBlastInvalidVectorX";
    case -1018: return "CLBlastInvalidVectorY";
    case -1017: return "CLBlastInvalidDimension";
    case -1016: return "CLBlastInvalidLeadDimA";
    case -1015: return "CLBlastInvalidLeadDimB";
    case -1014: return "CLBlastInvalidLeadDimC";
    case -1013: return "CLBlastInvalidIncrementX";
    case -1012: return "CLBlastInvalidIncrementY";
    case -1011: return "CLBlastInsufficientMemoryA";
    case -1010: return "CLBlastInsufficientMemoryB";
    case -1009: return "CLBlastInsufficientMemoryC";
    case -1008: return "CLBlastInsufficientMemoryX";
    case -1007: return "CLBlastInsufficientMemoryY";
    case -2050: return "CLBlastInsufficientMemoryTemp";
    case -2049: return "CLBlastInvalidBatchCount";
    case -2048: return "CLBlastInvalidOverrideKernel";
    case -2047: return "CLBlastMissingOverrideParameter";
    case -2046: return "CLBlastInvalidLocalMemUsage";
    case -2045: return "CLBlastNoHalfPrecision";
    case -2044: return "CLBlastNoDoublePrecision";
    case -2043: return "CLBlastInvalidVectorScalar";
    case -2042: return "CLBlastInsufficientMemoryScalar";
    case -2041: return "CLBlastDatabaseError";
    case -2040: return "CLBlastUnknownError";
    case -2039: return "CLBlastUnexpectedError";
    default: return "UNKNOWN_STATUS";
    }
}

// MARK: - Devices

// Platform and device discovery is serialised: the ICD loader and PoCL initialise on
// first use, and two threads discovering at once can see no devices at all.
static pthread_mutex_t discovery = PTHREAD_MUTEX_INITIALIZER;

static int find_device_unlocked(int index, cl_device_id *out, cl_platform_id *platform_out,
                                uint32_t *platform_index, int *total);

// Finds device `index` counted across every platform. Fills *platform_index when found.
static int find_device(int index, cl_device_id *out, cl_platform_id *platform_out,
                       uint32_t *platform_index, int *total) {
    pthread_mutex_lock(&discovery);
    int status = find_device_unlocked(index, out, platform_out, platform_index, total);
    pthread_mutex_unlock(&discovery);
    return status;
}

static int find_device_unlocked(int index, cl_device_id *out, cl_platform_id *platform_out,
                       uint32_t *platform_index, int *total) {
    cl_uint platform_count = 0;
    cl_int status = clGetPlatformIDs(0, NULL, &platform_count);
    if (status != CL_SUCCESS) return status;
    if (platform_count == 0) return LM_PLATFORM_NOT_FOUND;
    cl_platform_id *platforms = calloc(platform_count, sizeof(cl_platform_id));
    if (!platforms) return CL_OUT_OF_HOST_MEMORY;
    status = clGetPlatformIDs(platform_count, platforms, NULL);
    int seen = 0;
    int result = CL_DEVICE_NOT_FOUND;
    for (cl_uint p = 0; status == CL_SUCCESS && p < platform_count; p++) {
        cl_uint device_count = 0;
        cl_int device_status = clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, 0, NULL, &device_count);
        if (device_status == CL_DEVICE_NOT_FOUND || device_count == 0) continue;
        if (device_status != CL_SUCCESS) { status = device_status; break; }
        if (index >= seen && index < seen + (int)device_count) {
            cl_device_id *devices = calloc(device_count, sizeof(cl_device_id));
            if (!devices) { status = CL_OUT_OF_HOST_MEMORY; break; }
            status = clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, device_count, devices, NULL);
            if (status == CL_SUCCESS) {
                *out = devices[index - seen];
                if (platform_out) *platform_out = platforms[p];
                if (platform_index) *platform_index = p;
                result = CL_SUCCESS;
            }
            free(devices);
        }
        seen += (int)device_count;
    }
    free(platforms);
    if (total) *total = seen;
    if (status != CL_SUCCESS) return status;
    return result;
}

int lm_device_count(int *count) {
    *count = 0;
    cl_device_id unused;
    int status = find_device(-1, &unused, NULL, NULL, count);
    return status == CL_DEVICE_NOT_FOUND ? CL_SUCCESS : status;
}

static int string_info(cl_device_id device, cl_device_info what, char *out, size_t capacity) {
    out[0] = 0;
    int status = clGetDeviceInfo(device, what, capacity, out, NULL);
    if (status == CL_INVALID_VALUE) {
        // The string is longer than `capacity`: read it whole and truncate.
        size_t size = 0;
        status = clGetDeviceInfo(device, what, 0, NULL, &size);
        if (status != CL_SUCCESS) return status;
        char *whole = malloc(size + 1);
        if (!whole) return CL_OUT_OF_HOST_MEMORY;
        status = clGetDeviceInfo(device, what, size, whole, NULL);
        if (status == CL_SUCCESS) {
            whole[size] = 0;
            strncpy(out, whole, capacity - 1);
        }
        free(whole);
    }
    out[capacity - 1] = 0;
    return status;
}

int lm_device_query(int index, lm_device_info *info) {
    memset(info, 0, sizeof(*info));
    cl_device_id device;
    cl_platform_id platform;
    int status = find_device(index, &device, &platform, &info->platform_index, NULL);
    if (status != CL_SUCCESS) return status;

    status = clGetPlatformInfo(platform, CL_PLATFORM_NAME, sizeof(info->platform_name), info->platform_name, NULL);
    if (status == CL_SUCCESS)
        status = clGetPlatformInfo(platform, CL_PLATFORM_VENDOR, sizeof(info->platform_vendor), info->platform_vendor, NULL);
    info->platform_name[sizeof(info->platform_name) - 1] = 0;
    info->platform_vendor[sizeof(info->platform_vendor) - 1] = 0;
    if (status == CL_SUCCESS) status = string_info(device, CL_DEVICE_NAME, info->name, sizeof(info->name));
    if (status == CL_SUCCESS) status = string_info(device, CL_DEVICE_VENDOR, info->vendor, sizeof(info->vendor));
    if (status == CL_SUCCESS) status = string_info(device, CL_DEVICE_VERSION, info->device_version, sizeof(info->device_version));
    if (status == CL_SUCCESS) status = string_info(device, CL_DRIVER_VERSION, info->driver_version, sizeof(info->driver_version));
    if (status == CL_SUCCESS) status = string_info(device, CL_DEVICE_OPENCL_C_VERSION, info->c_version, sizeof(info->c_version));

    cl_device_type type = 0;
    cl_uint units = 0, clock = 0;
    cl_bool available = CL_FALSE;
    cl_ulong global_mem = 0, max_alloc = 0, local_mem = 0;
    size_t max_group = 0;
    if (status == CL_SUCCESS) status = clGetDeviceInfo(device, CL_DEVICE_TYPE, sizeof(type), &type, NULL);
    if (status == CL_SUCCESS) status = clGetDeviceInfo(device, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof(units), &units, NULL);
    if (status == CL_SUCCESS) status = clGetDeviceInfo(device, CL_DEVICE_MAX_CLOCK_FREQUENCY, sizeof(clock), &clock, NULL);
    if (status == CL_SUCCESS) status = clGetDeviceInfo(device, CL_DEVICE_AVAILABLE, sizeof(available), &available, NULL);
    if (status == CL_SUCCESS) status = clGetDeviceInfo(device, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof(global_mem), &global_mem, NULL);
    if (status == CL_SUCCESS) status = clGetDeviceInfo(device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof(max_alloc), &max_alloc, NULL);
    if (status == CL_SUCCESS) status = clGetDeviceInfo(device, CL_DEVICE_LOCAL_MEM_SIZE, sizeof(local_mem), &local_mem, NULL);
    if (status == CL_SUCCESS) status = clGetDeviceInfo(device, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof(max_group), &max_group, NULL);
    cl_uint dimensions = 0;
    size_t item_sizes[16] = {0};
    if (status == CL_SUCCESS) status = clGetDeviceInfo(device, CL_DEVICE_MAX_WORK_ITEM_DIMENSIONS, sizeof(dimensions), &dimensions, NULL);
    if (status == CL_SUCCESS && dimensions > 16) dimensions = 16;
    if (status == CL_SUCCESS) status = clGetDeviceInfo(device, CL_DEVICE_MAX_WORK_ITEM_SIZES, dimensions * sizeof(size_t), item_sizes, NULL);
    for (int d = 0; d < 3; d++) info->max_work_item_sizes[d] = d < (int)dimensions ? item_sizes[d] : 1;
    info->type = type;
    info->compute_units = units;
    info->clock_mhz = clock;
    info->available = available ? 1 : 0;
    info->global_mem_bytes = global_mem;
    info->max_alloc_bytes = max_alloc;
    info->local_mem_bytes = local_mem;
    info->max_work_group_size = max_group;
    return status;
}

static int open_device(int index, int profiling, lm_device **out);

int lm_device_open(int index, lm_device **out) { return open_device(index, 0, out); }
int lm_device_open_profiled(int index, lm_device **out) { return open_device(index, 1, out); }

static int open_device(int index, int profiling, lm_device **out) {
    *out = NULL;
    cl_device_id id;
    cl_platform_id platform;
    int status = find_device(index, &id, &platform, NULL, NULL);
    if (status != CL_SUCCESS) return status;
    lm_device *device = calloc(1, sizeof(lm_device));
    if (!device) return CL_OUT_OF_HOST_MEMORY;
    device->id = id;
    cl_context_properties properties[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)platform, 0};
    device->context = clCreateContext(properties, 1, &id, NULL, NULL, &status);
    if (status != CL_SUCCESS) { free(device); return status; }
    counted();
    device->profiling = profiling;
    device->queue = clCreateCommandQueue(device->context, id, profiling ? CL_QUEUE_PROFILING_ENABLE : 0, &status);
    if (status != CL_SUCCESS) {
        clReleaseContext(device->context);
        uncounted();
        free(device);
        return status;
    }
    counted();
    *out = device;
    return CL_SUCCESS;
}

void lm_device_close(lm_device *device) {
    if (!device) return;
    clFinish(device->queue);
    drain_profile(device);
    clReleaseCommandQueue(device->queue);
    uncounted();
    clReleaseContext(device->context);
    uncounted();
    free(device);
}

int lm_device_finish(lm_device *device) { return clFinish(device->queue); }

// MARK: - Buffers

int lm_buffer_alloc(lm_device *device, size_t bytes, cl_mem *out) {
    cl_int status = CL_SUCCESS;
    *out = clCreateBuffer(device->context, CL_MEM_READ_WRITE, bytes, NULL, &status);
    if (status == CL_SUCCESS) counted();
    else *out = NULL;
    return status;
}

void lm_buffer_free(cl_mem buffer) {
    if (!buffer) return;
    clReleaseMemObject(buffer);
    uncounted();
}

int lm_buffer_write(lm_device *device, cl_mem buffer, size_t offset, size_t bytes, const void *source) {
    if (bytes == 0) return CL_SUCCESS;
    return clEnqueueWriteBuffer(device->queue, buffer, CL_TRUE, offset, bytes, source, 0, NULL, NULL);
}

int lm_buffer_read(lm_device *device, cl_mem buffer, size_t offset, size_t bytes, void *destination) {
    if (bytes == 0) return CL_SUCCESS;
    return clEnqueueReadBuffer(device->queue, buffer, CL_TRUE, offset, bytes, destination, 0, NULL, NULL);
}

// Written from the host in one write rather than with clEnqueueFillBuffer: fills are
// rare (new parameters and optimizer state), and oclgrind 21.10 tracks host writes as
// initialising memory but not fills, nor every write at an offset: filled in blocks
// (65,536 floats, then the 4,464 left of 70,000) the first 4,464 floats read as
// uninitialised, so one write of the whole range is what its checker reads correctly.
int lm_buffer_fill_f32(lm_device *device, cl_mem buffer, size_t first, size_t count, float value) {
    if (count == 0) return CL_SUCCESS;
    float *pattern = malloc(count * sizeof(float));
    if (!pattern) return CL_OUT_OF_HOST_MEMORY;
    for (size_t i = 0; i < count; i++) pattern[i] = value;
    const int status = clEnqueueWriteBuffer(device->queue, buffer, CL_TRUE, first * sizeof(float), count * sizeof(float),
                                            pattern, 0, NULL, NULL);
    free(pattern);
    return status;
}

int lm_buffer_copy(lm_device *device, cl_mem source, size_t source_offset,
                   cl_mem destination, size_t destination_offset, size_t bytes) {
    if (bytes == 0) return CL_SUCCESS;
    return clEnqueueCopyBuffer(device->queue, source, destination, source_offset, destination_offset,
                               bytes, 0, NULL, NULL);
}

// MARK: - Programs and kernels

static void copy_build_log(lm_device *device, cl_program program, char *log, size_t capacity) {
    if (!log || capacity == 0) return;
    log[0] = 0;
    size_t size = 0;
    if (clGetProgramBuildInfo(program, device->id, CL_PROGRAM_BUILD_LOG, 0, NULL, &size) != CL_SUCCESS) return;
    char *whole = malloc(size + 1);
    if (!whole) return;
    if (clGetProgramBuildInfo(program, device->id, CL_PROGRAM_BUILD_LOG, size, whole, NULL) == CL_SUCCESS) {
        whole[size] = 0;
        strncpy(log, whole, capacity - 1);
        log[capacity - 1] = 0;
    }
    free(whole);
}

static int finish_build(lm_device *device, cl_program program, const char *options,
                        cl_program *out, char *log, size_t log_capacity) {
    cl_int status = clBuildProgram(program, 1, &device->id, options, NULL, NULL);
    if (status != CL_SUCCESS) {
        copy_build_log(device, program, log, log_capacity);
        clReleaseProgram(program);
        uncounted();
        return status;
    }
    *out = program;
    return CL_SUCCESS;
}

int lm_program_build_source(lm_device *device, const char *source, const char *options,
                            cl_program *out, char *log, size_t log_capacity) {
    *out = NULL;
    if (log && log_capacity) log[0] = 0;
    cl_int status = CL_SUCCESS;
    cl_program program = clCreateProgramWithSource(device->context, 1, &source, NULL, &status);
    if (status != CL_SUCCESS) return status;
    counted();
    return finish_build(device, program, options, out, log, log_capacity);
}

int lm_program_build_binary(lm_device *device, const unsigned char *binary, size_t size,
                            const char *options, cl_program *out, char *log, size_t log_capacity) {
    *out = NULL;
    if (log && log_capacity) log[0] = 0;
    cl_int status = CL_SUCCESS, binary_status = CL_SUCCESS;
    cl_program program = clCreateProgramWithBinary(device->context, 1, &device->id, &size, &binary,
                                                   &binary_status, &status);
    if (status != CL_SUCCESS) return status;
    counted();
    if (binary_status != CL_SUCCESS) {
        clReleaseProgram(program);
        uncounted();
        return binary_status;
    }
    return finish_build(device, program, options, out, log, log_capacity);
}

int lm_program_binary(cl_program program, unsigned char *buffer, size_t capacity, size_t *size) {
    cl_uint devices = 0;
    cl_int status = clGetProgramInfo(program, CL_PROGRAM_NUM_DEVICES, sizeof(devices), &devices, NULL);
    if (status != CL_SUCCESS) return status;
    if (devices != 1) return CL_INVALID_PROGRAM;
    status = clGetProgramInfo(program, CL_PROGRAM_BINARY_SIZES, sizeof(size_t), size, NULL);
    if (status != CL_SUCCESS || buffer == NULL) return status;
    if (capacity < *size) return CL_INVALID_VALUE;
    unsigned char *pointers[1] = {buffer};
    return clGetProgramInfo(program, CL_PROGRAM_BINARIES, sizeof(pointers), pointers, NULL);
}

void lm_program_release(cl_program program) {
    if (!program) return;
    clReleaseProgram(program);
    uncounted();
}

int lm_kernel_create(cl_program program, const char *name, cl_kernel *out) {
    cl_int status = CL_SUCCESS;
    *out = clCreateKernel(program, name, &status);
    if (status == CL_SUCCESS) counted();
    else *out = NULL;
    return status;
}

void lm_kernel_release(cl_kernel kernel) {
    if (!kernel) return;
    clReleaseKernel(kernel);
    uncounted();
}

int lm_kernel_max_work_group(lm_device *device, cl_kernel kernel, size_t *out) {
    return clGetKernelWorkGroupInfo(kernel, device->id, CL_KERNEL_WORK_GROUP_SIZE, sizeof(size_t), out, NULL);
}

int lm_kernel_num_args(cl_kernel kernel, unsigned *out) {
    cl_uint count = 0;
    const int status = clGetKernelInfo(kernel, CL_KERNEL_NUM_ARGS, sizeof count, &count, NULL);
    *out = count;
    return status;
}

int lm_kernel_set_arg(cl_kernel kernel, unsigned index, size_t size, const void *value) {
    return clSetKernelArg(kernel, index, size, value);
}

int lm_kernel_launch(lm_device *device, cl_kernel kernel, unsigned dimensions,
                     const size_t *global, const size_t *local) {
    return clEnqueueNDRangeKernel(device->queue, kernel, dimensions, NULL, global, local, 0, NULL, NULL);
}

// FNV-1a over the part of a name a profile keeps.
static uint32_t name_hash(const char *name) {
    uint32_t hash = 2166136261u;
    for (int i = 0; i < LM_PROFILE_NAME_LENGTH - 1 && name[i]; i++) hash = (hash ^ (uint8_t)name[i]) * 16777619u;
    return hash;
}

// The place of `name` in the profile, added when new. Found through a hash table, since a
// shapes profile (LUMEN_PROFILE=shapes) has up to thousands of names and a launch per few
// microseconds of a short kernel: host time spent here runs on the cores the kernels use.
static int profile_slot(lm_device *device, const char *name) {
    uint32_t at = name_hash(name) & (LM_PROFILE_TABLE - 1);
    for (int entry; (entry = device->name_table[at]) != 0; at = (at + 1) & (LM_PROFILE_TABLE - 1))
        if (strncmp(device->names[entry - 1], name, LM_PROFILE_NAME_LENGTH - 1) == 0) return entry - 1;
    if (device->name_count >= LM_PROFILE_NAMES - 1) {
        // Full: the last slot, under a name of its own, takes every launch of a name not
        // yet seen, so no shape's row counts another's launches.
        const int last = LM_PROFILE_NAMES - 1;
        if (device->name_count == last) {
            snprintf(device->names[last], LM_PROFILE_NAME_LENGTH, "%s%d names)", LM_PROFILE_OVERFLOW, last);
            device->name_count = LM_PROFILE_NAMES;
        }
        return last;
    }
    int slot = device->name_count++;
    strncpy(device->names[slot], name, LM_PROFILE_NAME_LENGTH - 1);
    device->names[slot][LM_PROFILE_NAME_LENGTH - 1] = 0;
    device->name_table[at] = slot + 1;
    return slot;
}

// Adds finished events' device time to their names and releases them.
static void drain_profile(lm_device *device) {
    if (device->pending_count == 0) return;
    clWaitForEvents((cl_uint)device->pending_count, device->pending);
    for (int i = 0; i < device->pending_count; i++) {
        cl_ulong start = 0, end = 0;
        if (clGetEventProfilingInfo(device->pending[i], CL_PROFILING_COMMAND_START, sizeof start, &start, NULL) == CL_SUCCESS &&
            clGetEventProfilingInfo(device->pending[i], CL_PROFILING_COMMAND_END, sizeof end, &end, NULL) == CL_SUCCESS &&
            end >= start) {
            device->total_ns[device->pending_name[i]] += end - start;
        }
        device->calls[device->pending_name[i]] += 1;
        clReleaseEvent(device->pending[i]);
    }
    device->pending_count = 0;
}

static void record_event(lm_device *device, const char *name, cl_event event) {
    if (device->pending_count == LM_PROFILE_PENDING) drain_profile(device);
    device->pending_name[device->pending_count] = profile_slot(device, name);
    device->pending[device->pending_count++] = event;
}

int lm_kernel_launch_named(lm_device *device, cl_kernel kernel, const char *name, unsigned dimensions,
                           const size_t *global, const size_t *local) {
    if (!device->profiling) return lm_kernel_launch(device, kernel, dimensions, global, local);
    cl_event event = NULL;
    int status = clEnqueueNDRangeKernel(device->queue, kernel, dimensions, NULL, global, local, 0, NULL, &event);
    if (status == CL_SUCCESS && event) record_event(device, name, event);
    return status;
}

int lm_device_take_profile(lm_device *device, char *names, uint64_t *nanoseconds, uint64_t *counts, int capacity) {
    clFinish(device->queue);
    drain_profile(device);
    int n = device->name_count < capacity ? device->name_count : capacity;
    for (int i = 0; i < n; i++) {
        memcpy(names + LM_PROFILE_NAME_LENGTH * i, device->names[i], LM_PROFILE_NAME_LENGTH);
        nanoseconds[i] = device->total_ns[i];
        counts[i] = device->calls[i];
    }
    memset(device->total_ns, 0, sizeof device->total_ns);
    memset(device->calls, 0, sizeof device->calls);
    memset(device->name_table, 0, sizeof device->name_table);
    device->name_count = 0;
    return n;
}

// MARK: - GEMM

// CLBlast 1.5 (Debian 12's) stores compiled routines in caches that concurrent calls can
// corrupt (CLBlast issue 486, fixed upstream in July 2023 by pull request 495): with
// several devices in one process each rank's thread calls it, and once a call threw
// std::bad_alloc. Every call into CLBlast holds this lock; the calls only enqueue work,
// so the devices still compute side by side.
static pthread_mutex_t clblast_calls = PTHREAD_MUTEX_INITIALIZER;

static CLBlastTranspose blast_transpose(int transpose) {
    return transpose ? CLBlastTransposeYes : CLBlastTransposeNo;
}

int lm_sgemm(lm_device *device, int transpose_a, int transpose_b,
             size_t m, size_t n, size_t k, float alpha,
             cl_mem a, size_t a_offset, size_t a_ld,
             cl_mem b, size_t b_offset, size_t b_ld, float beta,
             cl_mem c, size_t c_offset, size_t c_ld, cl_mem temp) {
    cl_event event = NULL;
    cl_event *want = device->profiling ? &event : NULL;
    int status;
    if (temp) {
        pthread_mutex_lock(&clblast_calls);
        status = CLBlastSgemmWithTempBuffer(CLBlastLayoutRowMajor, blast_transpose(transpose_a),
                                            blast_transpose(transpose_b), m, n, k, alpha, a, a_offset, a_ld,
                                            b, b_offset, b_ld, beta, c, c_offset, c_ld, &device->queue,
                                            want, temp);
        pthread_mutex_unlock(&clblast_calls);
    } else {
        pthread_mutex_lock(&clblast_calls);
        status = CLBlastSgemm(CLBlastLayoutRowMajor, blast_transpose(transpose_a), blast_transpose(transpose_b),
                              m, n, k, alpha, a, a_offset, a_ld, b, b_offset, b_ld, beta, c, c_offset, c_ld,
                              &device->queue, want);
        pthread_mutex_unlock(&clblast_calls);
    }
    if (status == 0 && event) record_event(device, "clblast/sgemm", event);
    return status;
}

int lm_clblast_override(lm_device *device, const char *kernel_name, const char **names,
                        const size_t *values, size_t count) {
    pthread_mutex_lock(&clblast_calls);
    const int status = CLBlastOverrideParameters(device->id, kernel_name, CLBlastPrecisionSingle, count, names, values);
    pthread_mutex_unlock(&clblast_calls);
    return status;
}

int lm_sgemm_temp_size(lm_device *device, int transpose_a, int transpose_b,
                       size_t m, size_t n, size_t k,
                       size_t a_offset, size_t a_ld, size_t b_offset, size_t b_ld,
                       size_t c_offset, size_t c_ld, size_t *bytes) {
    pthread_mutex_lock(&clblast_calls);
    const int status = CLBlastSGemmTempBufferSize(CLBlastLayoutRowMajor, blast_transpose(transpose_a),
                                                  blast_transpose(transpose_b), m, n, k, a_offset, a_ld, b_offset,
                                                  b_ld, c_offset, c_ld, &device->queue, bytes);
    pthread_mutex_unlock(&clblast_calls);
    return status;
}

int lm_sgemm_strided_batched(lm_device *device, int transpose_a, int transpose_b,
                             size_t m, size_t n, size_t k, float alpha,
                             cl_mem a, size_t a_offset, size_t a_ld, size_t a_stride,
                             cl_mem b, size_t b_offset, size_t b_ld, size_t b_stride, float beta,
                             cl_mem c, size_t c_offset, size_t c_ld, size_t c_stride,
                             size_t batch) {
    cl_event event = NULL;
    pthread_mutex_lock(&clblast_calls);
    int status = CLBlastSgemmStridedBatched(CLBlastLayoutRowMajor, blast_transpose(transpose_a),
                                            blast_transpose(transpose_b), m, n, k, alpha,
                                            a, a_offset, a_ld, a_stride, b, b_offset, b_ld, b_stride, beta,
                                            c, c_offset, c_ld, c_stride, batch, &device->queue,
                                            device->profiling ? &event : NULL);
    pthread_mutex_unlock(&clblast_calls);
    if (status == 0 && event) record_event(device, "clblast/sgemm_batched", event);
    return status;
}
