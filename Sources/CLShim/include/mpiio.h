#ifndef LUMEN_MPIIO_H
#define LUMEN_MPIIO_H
// MPI for data-parallel training: start, the collectives Lumen needs, and stopping
// every process. Status codes: 0 success, anything else MPI's error class.
#include <stddef.h>

// Starts MPI (MPI_THREAD_FUNNELED: only the thread that started it calls MPI) and
// reports this process's rank, the world size and its rank among the processes on the
// same node.
int lm_mpi_init(int *rank, int *size, int *local_rank);
// Whether MPI has been started and not yet finalised.
int lm_mpi_active(void);
int lm_mpi_finalize(void);
// In place, element-wise sums over every process.
int lm_mpi_sum_f32(float *values, size_t count);
int lm_mpi_sum_f64(double *values, size_t count);
// The largest value over every process, in place.
int lm_mpi_max_i32(int *values, size_t count);
// Root's values to every process, in place.
int lm_mpi_broadcast_f32(float *values, size_t count, int root);
// Stops every process of the job with `code`.
void lm_mpi_abort(int code);

#endif
