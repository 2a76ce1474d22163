/* curvo_mpi.h — curvo over MPI: the one public header that includes <mpi.h>. curvo.h never does, so
 * a program that trains on one process needs no MPI headers; a program that trains on many includes
 * this after curvo.h and links a libcurvo built with MPI (curvo_have_mpi() returns 1; the function
 * below does not exist in a library built without it).
 *
 * Usage (docs/DISTRIBUTED.md):
 *     MPI_Init(&argc, &argv);
 *     curvo_comm *comm;
 *     curvo_comm_from_mpi(MPI_COMM_WORLD, &comm);
 *     options.comm = comm;                 // curvo_train_options, or curvo_curv_set_comm
 *     ... every rank calls the same curvo functions with the same arguments ...
 *     curvo_comm_free(comm);               // collective, before MPI_Finalize
 *     MPI_Finalize();
 */
#ifndef CURVO_MPI_H
#define CURVO_MPI_H

#include <mpi.h>

#include "curvo.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A curvo communicator over the processes of c, collective over c: it duplicates c (MPI_Comm_dup),
 * so curvo's messages never mix with the caller's, and makes MPI errors on the duplicate come back
 * as CURVO_E_IO. MPI must be initialized (else CURVO_E_STATE); curvo calls MPI only from the thread
 * that calls curvo, so MPI_THREAD_FUNNELED suffices. The caller owns *out: free it with
 * curvo_comm_free (collective over c) after every curv context and trainer that uses it, and before
 * MPI_Finalize. */
int curvo_comm_from_mpi(MPI_Comm c, curvo_comm **out);

#ifdef __cplusplus
}
#endif
#endif /* CURVO_MPI_H */
