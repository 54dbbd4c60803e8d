/* How many file descriptors this process has open: a test compares the
 * count before and after, to see that what the code opened it closed. */
#ifndef GVMM_TESTS_OPEN_FDS_H
#define GVMM_TESTS_OPEN_FDS_H

unsigned open_fds(void);

#endif
