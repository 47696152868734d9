/* `tune --mpi`: one study over the ranks of an Open MPI job (src/stages/tune_mpi.c).
 * Rank 0 samples, journals and reports; ranks 1..N-1 train the trials it
 * sends them.  Built only when Open MPI's mpicc is found (see the Makefile);
 * otherwise dt_mpi_init fails with a usage error saying how to get it. */
#ifndef DT_MPI_H
#define DT_MPI_H

#include "dnntrouble/status.h"

/* 1 when this build has Open MPI. */
int dt_mpi_available(void);
/* MPI_Init; *rank and *size of MPI_COMM_WORLD.  DT_ECONFIG without Open MPI
 * or with fewer than 2 ranks (nobody would train). */
dt_status dt_mpi_init(int *argc, char ***argv, int *rank, int *size);
/* Rank 0: tells every worker rank to stop.  Then, every rank: MPI_Finalize. */
void dt_mpi_finish(void);
/* Ends the whole job (every rank) with this exit code: a rank that cannot go
 * on must not leave the others waiting. */
void dt_mpi_abort(int code);

#endif
