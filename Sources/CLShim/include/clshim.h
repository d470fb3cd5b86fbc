// CLShim: the only code in Lumen that calls OpenCL and CLBlast (and, in imageio.h,
// libjpeg and libpng).
//
// Small, flat functions. Every function that can fail returns a status code: an
// OpenCL status (CL_SUCCESS = 0, negative on error) or a CLBlast status, both of which
// lm_status_name() turns into a name. No policy lives here: no caching, no allocation
// strategy, no device choice. Those are Swift's.
#ifndef LUMEN_CLSHIM_H
#define LUMEN_CLSHIM_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <stddef.h>
#include <stdint.h>

#include "imageio.h"
#include "canvas.h"
#include "hdf5io.h"
#include "mpiio.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Status returned when no OpenCL platform exists (the ICD loader's
/// CL_PLATFORM_NOT_FOUND_KHR).
#define LM_PLATFORM_NOT_FOUND (-1001)

/// The symbolic name of an OpenCL or CLBlast status, e.g. "CL_OUT_OF_RESOURCES".
/// Unknown codes give "UNKNOWN_STATUS".
const char *lm_status_name(int status);

// MARK: - Devices

/// What Lumen reports about one device. Strings are NUL-terminated and truncated to fit.
typedef struct lm_device_info {
    char platform_name[256];
    char platform_vendor[256];
    char name[256];
    char vendor[256];
    char device_version[128];   // "OpenCL 3.0 PoCL ..."
    char driver_version[128];
    char c_version[128];        // "OpenCL C 1.2 ..."
    uint64_t type;              // CL_DEVICE_TYPE_* bits
    uint32_t platform_index;
    uint32_t compute_units;
    uint32_t clock_mhz;
    uint32_t available;         // CL_DEVICE_AVAILABLE
    uint64_t global_mem_bytes;
    uint64_t max_alloc_bytes;
    uint64_t local_mem_bytes;
    uint64_t max_work_group_size;
    uint64_t max_work_item_sizes[3];  // CL_DEVICE_MAX_WORK_ITEM_SIZES, per dimension
} lm_device_info;

/// Counts the devices of every platform. With no platform installed it returns
/// LM_PLATFORM_NOT_FOUND and sets *count to 0.
int lm_device_count(int *count);

/// Fills *info for device `index`, counted across all platforms in platform order.
int lm_device_query(int index, lm_device_info *info);

/// One device opened for work: a context and one in-order command queue.
typedef struct lm_device lm_device;

int lm_device_open(int index, lm_device **out);
/// Opens the device with a profiling queue: launches then report their device time
/// through lm_device_take_profile.
int lm_device_open_profiled(int index, lm_device **out);
/// The most names a profile keeps, and each name's slot in bytes, its terminating 0
/// included (longer names are cut). When all but the last are taken, the last is named
/// LM_PROFILE_OVERFLOW followed by how many names the others hold and a closing
/// parenthesis, and every launch of a name not yet seen adds to it.
#define LM_PROFILE_NAMES 4096
#define LM_PROFILE_NAME_LENGTH 160
#define LM_PROFILE_OVERFLOW "(other kernels and shapes; the profile keeps "

/// Kernel time recorded since the last call, by name: up to `capacity` entries of
/// (name in an LM_PROFILE_NAME_LENGTH-byte slot of `names`, total nanoseconds, count), in
/// first-seen order.
/// Waits for queued work. Returns the number of entries written.
int lm_device_take_profile(lm_device *device, char *names, uint64_t *nanoseconds, uint64_t *counts, int capacity);
void lm_device_close(lm_device *device);
/// Blocks until every command queued on the device has finished.
int lm_device_finish(lm_device *device);

// MARK: - Buffers

/// Allocates `bytes` of device memory (read-write). The contents are undefined.
int lm_buffer_alloc(lm_device *device, size_t bytes, cl_mem *out);
void lm_buffer_free(cl_mem buffer);
/// Blocking copy from host memory into the buffer at byte `offset`.
int lm_buffer_write(lm_device *device, cl_mem buffer, size_t offset, size_t bytes, const void *source);
/// Blocking copy from the buffer at byte `offset` into host memory.
int lm_buffer_read(lm_device *device, cl_mem buffer, size_t offset, size_t bytes, void *destination);
/// Sets `count` floats starting at float index `first` to `value`.
int lm_buffer_fill_f32(lm_device *device, cl_mem buffer, size_t first, size_t count, float value);
/// Device-side copy of `bytes` between two buffers.
int lm_buffer_copy(lm_device *device, cl_mem source, size_t source_offset,
                   cl_mem destination, size_t destination_offset, size_t bytes);

// MARK: - Programs and kernels

/// Builds a program from source. On CL_BUILD_PROGRAM_FAILURE the build log is copied
/// into `log` (truncated to `log_capacity`, always NUL-terminated when capacity > 0).
int lm_program_build_source(lm_device *device, const char *source, const char *options,
                            cl_program *out, char *log, size_t log_capacity);
/// Builds a program from a binary earlier returned by lm_program_binary.
int lm_program_build_binary(lm_device *device, const unsigned char *binary, size_t size,
                            const char *options, cl_program *out, char *log, size_t log_capacity);
/// The device binary of a built program. Call with `buffer` NULL to learn the size.
int lm_program_binary(cl_program program, unsigned char *buffer, size_t capacity, size_t *size);
void lm_program_release(cl_program program);

int lm_kernel_create(cl_program program, const char *name, cl_kernel *out);
void lm_kernel_release(cl_kernel kernel);
/// The largest work-group this kernel can be launched with on the device.
int lm_kernel_max_work_group(lm_device *device, cl_kernel kernel, size_t *out);
/// How many arguments the kernel takes (CL_KERNEL_NUM_ARGS).
int lm_kernel_num_args(cl_kernel kernel, unsigned *out);
int lm_kernel_set_arg(cl_kernel kernel, unsigned index, size_t size, const void *value);
/// Enqueues the kernel. `local` may be NULL to let the driver choose.
int lm_kernel_launch(lm_device *device, cl_kernel kernel, unsigned dimensions,
                     const size_t *global, const size_t *local);
/// lm_kernel_launch that, on a profiled device, records the launch under `name`.
int lm_kernel_launch_named(lm_device *device, cl_kernel kernel, const char *name, unsigned dimensions,
                           const size_t *global, const size_t *local);

// MARK: - GEMM through CLBlast (row-major)

/// C = alpha * op(A) * op(B) + beta * C, with op(X) = X or X^T (transpose != 0).
/// `temp` may be NULL; otherwise it must hold at least lm_sgemm_temp_size bytes.
int lm_sgemm(lm_device *device, int transpose_a, int transpose_b,
             size_t m, size_t n, size_t k, float alpha,
             cl_mem a, size_t a_offset, size_t a_ld,
             cl_mem b, size_t b_offset, size_t b_ld, float beta,
             cl_mem c, size_t c_offset, size_t c_ld, cl_mem temp);
/// Replaces CLBlast's tuning parameters for one of its kernels ("Xgemm", "XgemmDirect",
/// "GemmRoutine", …) in single precision on this device, for the rest of the process.
/// Every parameter the kernel has must be given.
int lm_clblast_override(lm_device *device, const char *kernel_name, const char **names,
                        const size_t *values, size_t count);

/// Bytes of temporary buffer CLBlast wants for the lm_sgemm call with these arguments.
int lm_sgemm_temp_size(lm_device *device, int transpose_a, int transpose_b,
                       size_t m, size_t n, size_t k,
                       size_t a_offset, size_t a_ld, size_t b_offset, size_t b_ld,
                       size_t c_offset, size_t c_ld, size_t *bytes);
/// `batch` independent GEMMs whose operands sit `*_stride` floats apart.
int lm_sgemm_strided_batched(lm_device *device, int transpose_a, int transpose_b,
                             size_t m, size_t n, size_t k, float alpha,
                             cl_mem a, size_t a_offset, size_t a_ld, size_t a_stride,
                             cl_mem b, size_t b_offset, size_t b_ld, size_t b_stride, float beta,
                             cl_mem c, size_t c_offset, size_t c_ld, size_t c_stride,
                             size_t batch);

// MARK: - Accounting

/// OpenCL objects created by this shim and not yet released (contexts, queues,
/// buffers, programs, kernels). Lets tests prove nothing leaks.
long lm_live_objects(void);

#ifdef __cplusplus
}
#endif

#endif
