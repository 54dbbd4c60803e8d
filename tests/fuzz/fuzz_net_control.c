// fuzz-sources: devices/net/net_rx_filter.c
/* Fuzzes the virtio-net control commands that shape receive filtering
 * (promiscuous and all-multicast modes, MAC tables, the device address):
 * guest-written bytes of any length. Beyond the sanitizers: the tables
 * never claim more entries than they hold, an answer of VIRTIO_NET_ERR
 * leaves the filter exactly as it was, and the device address is never a
 * multicast one.
 *
 * Input layout: a sequence of commands, each a class byte, a command
 * byte, a 16-bit little-endian length and that many data bytes (cut short
 * at the end of the input); after each, a destination address taken from
 * the data is run through the filter. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../devices/net/net_rx_filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
	struct net_rx_filter f, before;
	size_t pos = 0;

	net_rx_filter_reset(&f, mac);
	while (size - pos >= 4) {
		uint8_t cls = data[pos], cmd = data[pos + 1];
		size_t len = (size_t)data[pos + 2] | (size_t)data[pos + 3] << 8;
		uint8_t ack, dst[6] = { 0 };

		pos += 4;
		if (len > size - pos)
			len = size - pos;
		before = f;
		ack = net_rx_filter_control(&f, cls, cmd, data + pos, len);
		if (ack != VIRTIO_NET_OK && memcmp(&before, &f, sizeof(f)) != 0)
			abort();
		if (f.nr_uc > NET_FILTER_MAX_MACS || f.nr_mc > NET_FILTER_MAX_MACS ||
		    (f.mac[0] & 1))
			abort();
		memcpy(dst, data + pos, len < 6 ? len : 6);
		(void)net_rx_filter_accepts(&f, dst);
		pos += len;
	}
	return 0;
}
