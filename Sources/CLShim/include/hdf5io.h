// Reading Keras HDF5 weight files through libhdf5: string attributes, dataset shapes
// and float32 datasets. The only code in Lumen that calls libhdf5.
#ifndef LUMEN_HDF5IO_H
#define LUMEN_HDF5IO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Opens an HDF5 file read-only. Returns 0 and a handle, or -1 (not HDF5, unreadable).
int lm_h5_open(const char *path, int64_t *file);
void lm_h5_close(int64_t file);
/// 1 when `path` names a group or dataset in the file, else 0.
int lm_h5_exists(int64_t file, const char *path);
/// Reads the string-array attribute `attribute` of the object at `object` (fixed- or
/// variable-length strings) into `buffer` as NUL-separated strings. Returns 0 and sets
/// *count; 1 when the attribute is missing; 2 when it holds no strings (*count = 0);
/// -1 on an error or a buffer too small.
int lm_h5_attribute_strings(int64_t file, const char *object, const char *attribute, char *buffer, size_t capacity,
                            int *count);
/// The rank and dimensions (up to 8) of a dataset. 0 on success.
int lm_h5_dataset_shape(int64_t file, const char *path, int *rank, uint64_t *dims);
/// Reads a dataset converted to float32 into `out`, which holds `count` floats. 0 on success.
int lm_h5_dataset_read(int64_t file, const char *path, float *out, size_t count);

#ifdef __cplusplus
}
#endif

#endif
