/* Copies between flat buffers and scatter lists (iovecs pointing into guest
 * RAM), treating iov[0..n) as one byte stream. */
#ifndef GVMM_IOV_H
#define GVMM_IOV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Copies up to len bytes, starting offset bytes into the stream, to dst;
 * returns how many it copied (less when the stream ends first). */
size_t iov_to_buf(const struct iovec *iov, unsigned n, uint64_t offset,
		  void *dst, size_t len);
/* The other way: from src into the stream. */
size_t iov_from_buf(const struct iovec *iov, unsigned n, uint64_t offset,
		    const void *src, size_t len);

#endif
