#include "net_rx_filter.h"

#include <string.h>

static bool is_multicast(const uint8_t mac[6])
{
	return mac[0] & 1;
}

static bool is_broadcast(const uint8_t mac[6])
{
	static const uint8_t all_ones[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	return memcmp(mac, all_ones, 6) == 0;
}

static bool in_table(const uint8_t (*table)[6], unsigned n, const uint8_t mac[6])
{
	for (unsigned i = 0; i < n; i++)
		if (memcmp(table[i], mac, 6) == 0)
			return true;
	return false;
}

void net_rx_filter_reset(struct net_rx_filter *f, const uint8_t mac[6])
{
	memset(f, 0, sizeof(*f));
	memcpy(f->mac, mac, 6);
	f->promisc = true;
}

bool net_rx_filter_accepts(const struct net_rx_filter *f, const uint8_t dst[6])
{
	if (f->promisc || is_broadcast(dst))
		return true;
	if (is_multicast(dst))
		return f->allmulti || f->mc_overflow || in_table(f->mc, f->nr_mc, dst);
	return memcmp(dst, f->mac, 6) == 0 || f->uc_overflow ||
	       in_table(f->uc, f->nr_uc, dst);
}

static uint32_t load_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* One table of MAC_TABLE_SET: le32 count, then count addresses. Returns
 * the bytes it took, 0 when it does not fit in len. A table longer than we
 * keep is remembered as overflowing: the guest then gets every address of
 * that kind, the safe side of filtering. */
static size_t parse_mac_table(const uint8_t *data, size_t len, uint8_t (*table)[6],
			      unsigned *nr, bool *overflow)
{
	uint32_t count;

	if (len < 4)
		return 0;
	count = load_le32(data);
	if (count > (len - 4) / 6)
		return 0;
	*overflow = count > NET_FILTER_MAX_MACS;
	*nr = *overflow ? 0 : count;
	for (unsigned i = 0; i < *nr; i++)
		memcpy(table[i], data + 4 + 6 * (size_t)i, 6);
	return 4 + 6 * (size_t)count;
}

static uint8_t set_mac_tables(struct net_rx_filter *f, const uint8_t *data, size_t len)
{
	struct net_rx_filter next = *f;
	size_t uc_len, mc_len;

	uc_len = parse_mac_table(data, len, next.uc, &next.nr_uc, &next.uc_overflow);
	if (!uc_len)
		return VIRTIO_NET_ERR;
	mc_len = parse_mac_table(data + uc_len, len - uc_len, next.mc, &next.nr_mc,
				 &next.mc_overflow);
	if (!mc_len || uc_len + mc_len != len)
		return VIRTIO_NET_ERR;
	*f = next;
	return VIRTIO_NET_OK;
}

uint8_t net_rx_filter_control(struct net_rx_filter *f, uint8_t cls, uint8_t cmd,
			      const uint8_t *data, size_t len)
{
	if (cls == VIRTIO_NET_CTRL_RX) {
		if (len != 1 || cmd > VIRTIO_NET_CTRL_RX_ALLMULTI)
			return VIRTIO_NET_ERR;
		if (cmd == VIRTIO_NET_CTRL_RX_PROMISC)
			f->promisc = data[0] != 0;
		else
			f->allmulti = data[0] != 0;
		return VIRTIO_NET_OK;
	}
	if (cls == VIRTIO_NET_CTRL_MAC) {
		if (cmd == VIRTIO_NET_CTRL_MAC_TABLE_SET)
			return set_mac_tables(f, data, len);
		if (cmd == VIRTIO_NET_CTRL_MAC_ADDR_SET) {
			if (len != 6 || is_multicast(data))
				return VIRTIO_NET_ERR;
			memcpy(f->mac, data, 6);
			return VIRTIO_NET_OK;
		}
	}
	return VIRTIO_NET_ERR;
}
