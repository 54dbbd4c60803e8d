#include "block_request.h"

#include "../virtio/iov.h"

#include <endian.h>
#include <string.h>

#define HEADER_BYTES   16
#define SEGMENT_BYTES  16

/* The header and each discard / write-zeroes segment, as the guest lays
 * them out (little-endian). */
struct wire_header {
	uint32_t type;
	uint32_t reserved;   /* I/O priority for some drivers; ignored */
	uint64_t sector;
};
_Static_assert(sizeof(struct wire_header) == HEADER_BYTES, "request header is 16 bytes");

struct wire_segment {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};
_Static_assert(sizeof(struct wire_segment) == SEGMENT_BYTES, "segment is 16 bytes");

static uint8_t refuse(struct block_request *req, uint8_t status, const char *why)
{
	req->error = why;
	return status;
}

/* Moves up to len bytes from the front of iov[*first..end) into dst (when
 * given) and cuts them off those iovecs; emptied iovecs are stepped over.
 * Returns the bytes taken. */
static uint64_t take_front(struct iovec *iov, unsigned *first, unsigned end,
			   void *dst, uint64_t len)
{
	uint64_t done = 0;

	while (*first < end && done < len) {
		struct iovec *v = &iov[*first];
		uint64_t chunk = v->iov_len;

		if (chunk > len - done)
			chunk = len - done;
		if (dst)
			memcpy((uint8_t *)dst + done, v->iov_base, chunk);
		v->iov_base = (uint8_t *)v->iov_base + chunk;
		v->iov_len -= chunk;
		done += chunk;
		if (v->iov_len == 0)
			(*first)++;
	}
	while (*first < end && iov[*first].iov_len == 0)
		(*first)++;
	return done;
}


static uint64_t iov_bytes(const struct iovec *iov, unsigned n)
{
	uint64_t total = 0;

	for (unsigned i = 0; i < n; i++)
		total += iov[i].iov_len;
	return total;
}

/* [sector, sector + count) lies on the disk; no sum can wrap. */
static bool sectors_fit(uint64_t sector, uint64_t count, uint64_t capacity)
{
	return sector <= capacity && count <= capacity - sector;
}

/* The status byte is the last byte of the last device-writable buffer
 * that has any; it is cut off the in buffers. Returns the number of in
 * buffers left for data. */
static unsigned claim_status(struct block_request *req, struct iovec *in, unsigned nr_in)
{
	while (nr_in && in[nr_in - 1].iov_len == 0)
		nr_in--;
	if (!nr_in)
		return 0;
	in[nr_in - 1].iov_len--;
	req->status = (uint8_t *)in[nr_in - 1].iov_base + in[nr_in - 1].iov_len;
	if (in[nr_in - 1].iov_len == 0)
		nr_in--;
	return nr_in;
}

static uint8_t parse_rw(struct block_request *req, uint64_t sector,
			const struct block_request_limits *lim)
{
	if (req->type == VIRTIO_BLK_T_OUT && lim->read_only)
		return refuse(req, VIRTIO_BLK_S_IOERR, "write to a read-only disk");
	if (req->iovcnt > lim->seg_max)
		return refuse(req, VIRTIO_BLK_S_IOERR, "more data buffers than seg_max");
	if (req->len % VIRTIO_BLK_SECTOR_SIZE)
		return refuse(req, VIRTIO_BLK_S_IOERR, "data length is not a multiple of 512");
	if (!sectors_fit(sector, req->len >> VIRTIO_BLK_SECTOR_SHIFT, lim->capacity))
		return refuse(req, VIRTIO_BLK_S_IOERR, "sectors beyond the end of the disk");
	req->offset = sector << VIRTIO_BLK_SECTOR_SHIFT;
	return VIRTIO_BLK_S_OK;
}

static uint8_t parse_ranges(struct block_request *req,
			    const struct block_request_limits *lim)
{
	bool zeroes = req->type == VIRTIO_BLK_T_WRITE_ZEROES;
	uint32_t max_seg = zeroes ? lim->max_write_zeroes_seg : lim->max_discard_seg;
	uint32_t max_sectors = zeroes ? lim->max_write_zeroes_sectors : lim->max_discard_sectors;
	uint32_t allowed_flags = zeroes ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0;
	uint64_t count;

	if (!(zeroes ? lim->write_zeroes : lim->discard))
		return refuse(req, VIRTIO_BLK_S_UNSUPP, "discard / write zeroes not negotiated");
	if (lim->read_only)
		return refuse(req, VIRTIO_BLK_S_IOERR, "discard / write zeroes on a read-only disk");
	if (req->len == 0 || req->len % SEGMENT_BYTES)
		return refuse(req, VIRTIO_BLK_S_IOERR, "segments are not a whole number of 16 bytes");
	count = req->len / SEGMENT_BYTES;
	if (max_seg > BLOCK_REQUEST_MAX_RANGES)
		max_seg = BLOCK_REQUEST_MAX_RANGES;
	if (count > max_seg)
		return refuse(req, VIRTIO_BLK_S_IOERR, "more segments than the device allows");
	for (unsigned i = 0; i < count; i++) {
		struct wire_segment seg;
		uint64_t sector;
		uint32_t num, flags;

		iov_to_buf(req->iov, req->iovcnt, (uint64_t)i * SEGMENT_BYTES, &seg, sizeof(seg));
		sector = le64toh(seg.sector);
		num = le32toh(seg.num_sectors);
		flags = le32toh(seg.flags);
		/* Unknown flags, and unmap on a discard, are UNSUPP (5.2.6.2). */
		if (flags & ~allowed_flags)
			return refuse(req, VIRTIO_BLK_S_UNSUPP, "unmap on a discard, or segment flags the device does not know");
		if (num > max_sectors)
			return refuse(req, VIRTIO_BLK_S_IOERR, "segment longer than the device allows");
		if (!sectors_fit(sector, num, lim->capacity))
			return refuse(req, VIRTIO_BLK_S_IOERR, "segment beyond the end of the disk");
		req->ranges[i] = (struct block_range){
			.offset = sector << VIRTIO_BLK_SECTOR_SHIFT,
			.len = (uint64_t)num << VIRTIO_BLK_SECTOR_SHIFT,
			.unmap = flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP,
		};
	}
	req->nr_ranges = (unsigned)count;
	/* The segments were the data; nothing is left to transfer. */
	req->iov = NULL;
	req->iovcnt = 0;
	req->len = 0;
	return VIRTIO_BLK_S_OK;
}

uint8_t block_request_parse(struct block_request *req, struct virtq_chain *chain,
			    const struct block_request_limits *lim)
{
	struct wire_header hdr;
	unsigned nr_out = chain->nr_out, nr_in = chain->nr_in, out_first = 0;
	struct iovec *in;
	uint64_t sector;

	memset(req, 0, sizeof(*req));
	if (nr_out > VIRTQ_MAX_CHAIN_IOV || nr_in > VIRTQ_MAX_CHAIN_IOV - nr_out)
		return refuse(req, VIRTIO_BLK_S_IOERR, "chain has more buffers than it can hold");
	in = chain->iov + nr_out;
	nr_in = claim_status(req, in, nr_in);
	if (!req->status)
		return refuse(req, VIRTIO_BLK_S_IOERR, "no device-writable byte for the status");
	if (take_front(chain->iov, &out_first, nr_out, &hdr, sizeof(hdr)) < sizeof(hdr))
		return refuse(req, VIRTIO_BLK_S_IOERR, "request header shorter than 16 bytes");
	req->type = le32toh(hdr.type);
	sector = le64toh(hdr.sector);

	switch (req->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_GET_ID:
		req->iov = in;
		req->iovcnt = nr_in;
		break;
	case VIRTIO_BLK_T_OUT:
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		req->iov = chain->iov + out_first;
		req->iovcnt = nr_out - out_first;
		break;
	case VIRTIO_BLK_T_FLUSH:
		return VIRTIO_BLK_S_OK;
	default:
		return refuse(req, VIRTIO_BLK_S_UNSUPP, "unsupported request type");
	}
	req->len = iov_bytes(req->iov, req->iovcnt);

	switch (req->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		return parse_rw(req, sector, lim);
	case VIRTIO_BLK_T_GET_ID:
		if (req->iovcnt > lim->seg_max)
			return refuse(req, VIRTIO_BLK_S_IOERR, "more data buffers than seg_max");
		return VIRTIO_BLK_S_OK;
	default:
		return parse_ranges(req, lim);
	}
}

uint32_t block_request_id_len(const struct block_request *req)
{
	return req->len < VIRTIO_BLK_ID_BYTES ? (uint32_t)req->len : VIRTIO_BLK_ID_BYTES;
}

uint32_t block_request_written(const struct block_request *req, uint8_t status)
{
	uint64_t data = 0;

	if (status == VIRTIO_BLK_S_OK && req->type == VIRTIO_BLK_T_IN)
		data = req->len;
	else if (status == VIRTIO_BLK_S_OK && req->type == VIRTIO_BLK_T_GET_ID)
		data = block_request_id_len(req);
	/* A chain is at most 4 GiB (the used element's field), status included. */
	return data >= UINT32_MAX ? UINT32_MAX : (uint32_t)data + 1;
}
