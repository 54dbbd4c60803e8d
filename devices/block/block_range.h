/* One stretch of a disk that a discard or a write-zeroes covers: what the
 * virtio-blk request parser produces and the disk backend carries out. */
#ifndef GVMM_BLOCK_RANGE_H
#define GVMM_BLOCK_RANGE_H

#include <stdbool.h>
#include <stdint.h>

/* In bytes of the disk. */
struct block_range {
	uint64_t offset;
	uint64_t len;
	bool unmap;                     /* write zeroes may deallocate */
};

#endif
