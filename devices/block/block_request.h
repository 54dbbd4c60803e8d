/* A virtio-blk request (virtio 1.2, section 5.2.6), parsed out of a
 * virtqueue chain: the 16-byte header {type, reserved, sector} at the
 * start of the device-readable buffers, the data, and the status byte that
 * is the last device-writable byte. Everything here comes from the guest,
 * so every length, count and sector is checked against the disk's limits
 * before the request is handed on. Pure: no I/O, no allocation, no log;
 * fuzzers drive it directly. */
#ifndef GVMM_BLOCK_REQUEST_H
#define GVMM_BLOCK_REQUEST_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "block_range.h"
#include "../virtio/virtqueue.h"

#define VIRTIO_BLK_SECTOR_SIZE   512
#define VIRTIO_BLK_SECTOR_SHIFT  9
#define VIRTIO_BLK_ID_BYTES      20

/* Request types. */
#define VIRTIO_BLK_T_IN            0
#define VIRTIO_BLK_T_OUT           1
#define VIRTIO_BLK_T_FLUSH         4
#define VIRTIO_BLK_T_GET_ID        8
#define VIRTIO_BLK_T_DISCARD       11
#define VIRTIO_BLK_T_WRITE_ZEROES  13

/* Status byte values. */
#define VIRTIO_BLK_S_OK      0
#define VIRTIO_BLK_S_IOERR   1
#define VIRTIO_BLK_S_UNSUPP  2

#define VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP  1

/* The most discard / write-zeroes segments one request may carry (what
 * the device offers as max_discard_seg and max_write_zeroes_seg). */
#define BLOCK_REQUEST_MAX_RANGES  32

/* What the device offers, and so what a request may ask for. */
struct block_request_limits {
	uint64_t capacity;              /* disk size in 512-byte sectors */
	bool read_only;
	uint32_t seg_max;               /* data buffers per request */
	bool discard;                   /* VIRTIO_BLK_F_DISCARD negotiated */
	uint32_t max_discard_sectors;
	uint32_t max_discard_seg;       /* <= BLOCK_REQUEST_MAX_RANGES */
	bool write_zeroes;              /* VIRTIO_BLK_F_WRITE_ZEROES negotiated */
	uint32_t max_write_zeroes_sectors;
	uint32_t max_write_zeroes_seg;  /* <= BLOCK_REQUEST_MAX_RANGES */
};

struct block_request {
	uint32_t type;                  /* VIRTIO_BLK_T_* */
	uint64_t offset;                /* bytes: sector * 512 (IN and OUT) */
	/* The data buffers: guest memory the I/O goes to or from. They are
	 * the chain's own iovecs, trimmed in place so the header and the
	 * status byte are not part of them (IN, OUT, GET_ID). */
	struct iovec *iov;
	unsigned iovcnt;
	uint64_t len;                   /* data bytes */
	uint8_t *status;                /* in guest memory; NULL: there is none */
	unsigned nr_ranges;             /* DISCARD and WRITE_ZEROES segments */
	struct block_range ranges[BLOCK_REQUEST_MAX_RANGES];
	const char *error;              /* why it was refused (a static string) */
};

/* Parses chain; its iovecs are trimmed in place (req->iov points into
 * them, so the chain must outlive the request). Returns VIRTIO_BLK_S_OK
 * for a request to carry out, or the status to report right away
 * (VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_UNSUPP) with req->error saying why;
 * req->status is NULL when the chain has no device-writable byte to report
 * anything in (the driver broke the protocol). */
uint8_t block_request_parse(struct block_request *req, struct virtq_chain *chain,
			    const struct block_request_limits *lim);

/* Bytes of the id GET_ID writes: the data buffers' length, at most 20. */
uint32_t block_request_id_len(const struct block_request *req);
/* What the used element reports when the request ends with status: the
 * data read (IN) or the id (GET_ID) on success, plus the status byte. */
uint32_t block_request_written(const struct block_request *req, uint8_t status);

#endif
