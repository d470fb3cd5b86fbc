// MPI for data-parallel training; see include/mpiio.h. Large buffers go in chunks,
// since MPI counts are ints.
#include "mpiio.h"

#include <limits.h>
#include <mpi.h>

#define CHUNK ((size_t)1 << 28)

int lm_mpi_init(int *rank, int *size, int *local_rank) {
    int provided = 0;
    int status = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    if (status != MPI_SUCCESS) return status;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    if ((status = MPI_Comm_rank(MPI_COMM_WORLD, rank)) != MPI_SUCCESS) return status;
    if ((status = MPI_Comm_size(MPI_COMM_WORLD, size)) != MPI_SUCCESS) return status;
    MPI_Comm node;
    if ((status = MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, *rank, MPI_INFO_NULL, &node)) != MPI_SUCCESS)
        return status;
    status = MPI_Comm_rank(node, local_rank);
    MPI_Comm_free(&node);
    return status;
}

int lm_mpi_active(void) {
    int started = 0, finished = 0;
    MPI_Initialized(&started);
    MPI_Finalized(&finished);
    return started && !finished;
}

int lm_mpi_finalize(void) { return MPI_Finalize(); }

static int sum_chunks(void *values, size_t count, size_t element, MPI_Datatype type, MPI_Op op) {
    char *bytes = values;
    for (size_t done = 0; done < count; done += CHUNK) {
        const size_t part = count - done < CHUNK ? count - done : CHUNK;
        const int status = MPI_Allreduce(MPI_IN_PLACE, bytes + done * element, (int)part, type, op, MPI_COMM_WORLD);
        if (status != MPI_SUCCESS) return status;
    }
    return 0;
}

int lm_mpi_sum_f32(float *values, size_t count) { return sum_chunks(values, count, sizeof(float), MPI_FLOAT, MPI_SUM); }
int lm_mpi_sum_f64(double *values, size_t count) { return sum_chunks(values, count, sizeof(double), MPI_DOUBLE, MPI_SUM); }
int lm_mpi_max_i32(int *values, size_t count) { return sum_chunks(values, count, sizeof(int), MPI_INT, MPI_MAX); }

int lm_mpi_broadcast_f32(float *values, size_t count, int root) {
    for (size_t done = 0; done < count; done += CHUNK) {
        const size_t part = count - done < CHUNK ? count - done : CHUNK;
        const int status = MPI_Bcast(values + done, (int)part, MPI_FLOAT, root, MPI_COMM_WORLD);
        if (status != MPI_SUCCESS) return status;
    }
    return 0;
}

void lm_mpi_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }
