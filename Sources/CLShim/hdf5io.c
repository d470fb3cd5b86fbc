// Keras HDF5 reading through libhdf5. See include/hdf5io.h.
#include "hdf5io.h"

#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

int lm_h5_open(const char *path, int64_t *file) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);  // errors become return codes, not printed traces
    if (H5Fis_hdf5(path) <= 0) return -1;
    hid_t id = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (id < 0) return -1;
    *file = id;
    return 0;
}

void lm_h5_close(int64_t file) { if (file >= 0) H5Fclose((hid_t)file); }

int lm_h5_exists(int64_t file, const char *path) {
    if (strcmp(path, "/") == 0) return 1;
    // Every prefix must exist for H5Lexists to be asked about the next part.
    char *copy = strdup(path);
    if (!copy) return 0;
    int exists = 1;
    for (char *slash = copy + (copy[0] == '/'); exists; ) {
        slash = strchr(slash, '/');
        if (slash) *slash = 0;
        exists = H5Lexists((hid_t)file, copy, H5P_DEFAULT) > 0;
        if (!slash) break;
        *slash = '/';
        slash++;
    }
    free(copy);
    return exists;
}

int lm_h5_attribute_strings(int64_t file, const char *object, const char *attribute, char *buffer, size_t capacity,
                            int *count) {
    *count = 0;
    if (!lm_h5_exists(file, object)) return 1;
    if (H5Aexists_by_name((hid_t)file, object, attribute, H5P_DEFAULT) <= 0) return 1;
    hid_t attr = H5Aopen_by_name((hid_t)file, object, attribute, H5P_DEFAULT, H5P_DEFAULT);
    if (attr < 0) return -1;
    int status = -1;
    hid_t type = H5Aget_type(attr);
    hid_t space = H5Aget_space(attr);
    hssize_t n = H5Sget_simple_extent_npoints(space);
    if (type < 0 || space < 0 || n < 0) goto done;
    if (H5Tget_class(type) != H5T_STRING || n == 0) {
        status = 2;
        goto done;
    }
    size_t used = 0;
    if (H5Tis_variable_str(type) > 0) {
        char **strings = calloc((size_t)n, sizeof(char *));
        hid_t memtype = H5Tcopy(H5T_C_S1);
        H5Tset_size(memtype, H5T_VARIABLE);
        if (strings && H5Aread(attr, memtype, strings) >= 0) {
            status = 0;
            for (hssize_t i = 0; i < n; i++) {
                size_t length = strings[i] ? strlen(strings[i]) : 0;
                if (used + length + 1 > capacity) { status = -1; break; }
                if (length) memcpy(buffer + used, strings[i], length);
                buffer[used + length] = 0;
                used += length + 1;
            }
            H5Dvlen_reclaim(memtype, space, H5P_DEFAULT, strings);
        }
        H5Tclose(memtype);
        free(strings);
    } else {
        size_t size = H5Tget_size(type);
        char *raw = calloc((size_t)n, size);
        hid_t memtype = H5Tcopy(H5T_C_S1);
        H5Tset_size(memtype, size);
        if (raw && H5Aread(attr, memtype, raw) >= 0) {
            status = 0;
            for (hssize_t i = 0; i < n; i++) {
                const char *s = raw + (size_t)i * size;
                size_t length = strnlen(s, size);
                if (used + length + 1 > capacity) { status = -1; break; }
                memcpy(buffer + used, s, length);
                buffer[used + length] = 0;
                used += length + 1;
            }
        }
        H5Tclose(memtype);
        free(raw);
    }
    if (status == 0) *count = (int)n;
done:
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    H5Aclose(attr);
    return status;
}

int lm_h5_dataset_shape(int64_t file, const char *path, int *rank, uint64_t *dims) {
    if (!lm_h5_exists(file, path)) return -1;
    hid_t set = H5Dopen2((hid_t)file, path, H5P_DEFAULT);
    if (set < 0) return -1;
    hid_t space = H5Dget_space(set);
    int r = H5Sget_simple_extent_ndims(space);
    int status = -1;
    if (r >= 0 && r <= 8) {
        hsize_t d[8];
        H5Sget_simple_extent_dims(space, d, NULL);
        for (int i = 0; i < r; i++) dims[i] = d[i];
        *rank = r;
        status = 0;
    }
    H5Sclose(space);
    H5Dclose(set);
    return status;
}

int lm_h5_dataset_read(int64_t file, const char *path, float *out, size_t count) {
    if (!lm_h5_exists(file, path)) return -1;
    hid_t set = H5Dopen2((hid_t)file, path, H5P_DEFAULT);
    if (set < 0) return -1;
    hid_t space = H5Dget_space(set);
    hssize_t n = H5Sget_simple_extent_npoints(space);
    int status = -1;
    if (n >= 0 && (size_t)n == count && H5Dread(set, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0) status = 0;
    H5Sclose(space);
    H5Dclose(set);
    return status;
}
