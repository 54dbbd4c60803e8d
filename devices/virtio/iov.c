#include "iov.h"

#include <string.h>

/* Walks to offset, then copies chunk by chunk: into the iovecs when src is
 * given, out of them into dst otherwise. */
static size_t iov_copy(const struct iovec *iov, unsigned n, uint64_t offset,
		       void *dst, const void *src, size_t len)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		uint8_t *base = iov[i].iov_base;
		size_t chunk;

		if (offset >= iov[i].iov_len) {
			offset -= iov[i].iov_len;
			continue;
		}
		chunk = iov[i].iov_len - offset;
		if (chunk > len - done)
			chunk = len - done;
		if (src)
			memcpy(base + offset, (const uint8_t *)src + done, chunk);
		else
			memcpy((uint8_t *)dst + done, base + offset, chunk);
		done += chunk;
		offset = 0;
	}
	return done;
}

size_t iov_to_buf(const struct iovec *iov, unsigned n, uint64_t offset,
		  void *dst, size_t len)
{
	return iov_copy(iov, n, offset, dst, NULL, len);
}

size_t iov_from_buf(const struct iovec *iov, unsigned n, uint64_t offset,
		    const void *src, size_t len)
{
	return iov_copy(iov, n, offset, NULL, src, len);
}
