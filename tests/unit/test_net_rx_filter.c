/* The virtio-net receive filter on its own: which destination addresses
 * pass, and how the control-queue commands change that (virtio 1.2,
 * 5.1.6.5.1 and 5.1.6.5.2). No device, no threads. */
#include "check.h"

#include "../../devices/net/net_rx_filter.h"

static const uint8_t own_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t other_uc[6] = { 0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc };
static const uint8_t table_uc[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t broadcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t mc_a[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
static const uint8_t mc_b[6] = { 0x33, 0x33, 0x00, 0x00, 0x00, 0x02 };

/* Room for tables past the filter's limit, to reach overflow. */
#define TABLE_BUF_MAX (2 * (4 + 6 * (NET_FILTER_MAX_MACS + 8)))

/* A MAC_TABLE_SET payload: le32 count and addresses, twice. Returns its
 * length. */
static size_t mac_tables(uint8_t *buf, const uint8_t (*uc)[6], uint32_t nr_uc,
			 const uint8_t (*mc)[6], uint32_t nr_mc)
{
	size_t at = 0;

	for (unsigned t = 0; t < 2; t++) {
		const uint8_t (*table)[6] = t ? mc : uc;
		uint32_t n = t ? nr_mc : nr_uc;

		buf[at++] = (uint8_t)n;
		buf[at++] = (uint8_t)(n >> 8);
		buf[at++] = (uint8_t)(n >> 16);
		buf[at++] = (uint8_t)(n >> 24);
		for (uint32_t i = 0; i < n; i++, at += 6)
			memcpy(buf + at, table[i], 6);
	}
	return at;
}

/* Field by field: a struct copy need not carry its padding. */
static bool same_filter(const struct net_rx_filter *a, const struct net_rx_filter *b)
{
	return memcmp(a->mac, b->mac, 6) == 0 && a->promisc == b->promisc &&
	       a->allmulti == b->allmulti && a->uc_overflow == b->uc_overflow &&
	       a->mc_overflow == b->mc_overflow && a->nr_uc == b->nr_uc &&
	       a->nr_mc == b->nr_mc && memcmp(a->uc, b->uc, sizeof(a->uc)) == 0 &&
	       memcmp(a->mc, b->mc, sizeof(a->mc)) == 0;
}

static uint8_t rx_mode(struct net_rx_filter *f, uint8_t cmd, uint8_t on)
{
	return net_rx_filter_control(f, VIRTIO_NET_CTRL_RX, cmd, &on, 1);
}

static void promiscuous_after_reset(void)
{
	struct net_rx_filter f;

	memset(&f, 0x5a, sizeof(f));
	net_rx_filter_reset(&f, own_mac);
	CHECK(f.promisc);
	CHECK(!f.allmulti);
	CHECK_EQ(f.nr_uc, 0);
	CHECK_EQ(f.nr_mc, 0);
	CHECK(!f.uc_overflow && !f.mc_overflow);
	CHECK(memcmp(f.mac, own_mac, 6) == 0);
	CHECK(net_rx_filter_accepts(&f, own_mac));
	CHECK(net_rx_filter_accepts(&f, other_uc));
	CHECK(net_rx_filter_accepts(&f, broadcast));
	CHECK(net_rx_filter_accepts(&f, mc_a));
}

static void own_mac_and_broadcast_without_promisc(void)
{
	struct net_rx_filter f;

	net_rx_filter_reset(&f, own_mac);
	CHECK_EQ(rx_mode(&f, VIRTIO_NET_CTRL_RX_PROMISC, 0), VIRTIO_NET_OK);
	CHECK(!f.promisc);
	CHECK(net_rx_filter_accepts(&f, own_mac));
	CHECK(net_rx_filter_accepts(&f, broadcast));
	CHECK(!net_rx_filter_accepts(&f, other_uc));
	CHECK(!net_rx_filter_accepts(&f, mc_a));
	/* Any non-zero byte means on. */
	CHECK_EQ(rx_mode(&f, VIRTIO_NET_CTRL_RX_PROMISC, 7), VIRTIO_NET_OK);
	CHECK(net_rx_filter_accepts(&f, other_uc));
}

static void allmulti_takes_every_multicast(void)
{
	struct net_rx_filter f;

	net_rx_filter_reset(&f, own_mac);
	rx_mode(&f, VIRTIO_NET_CTRL_RX_PROMISC, 0);
	CHECK_EQ(rx_mode(&f, VIRTIO_NET_CTRL_RX_ALLMULTI, 1), VIRTIO_NET_OK);
	CHECK(net_rx_filter_accepts(&f, mc_a));
	CHECK(net_rx_filter_accepts(&f, mc_b));
	/* It is about multicast only. */
	CHECK(!net_rx_filter_accepts(&f, other_uc));
	CHECK_EQ(rx_mode(&f, VIRTIO_NET_CTRL_RX_ALLMULTI, 0), VIRTIO_NET_OK);
	CHECK(!net_rx_filter_accepts(&f, mc_a));
}

static void tables_add_addresses(void)
{
	struct net_rx_filter f;
	uint8_t buf[TABLE_BUF_MAX];
	size_t len;

	net_rx_filter_reset(&f, own_mac);
	rx_mode(&f, VIRTIO_NET_CTRL_RX_PROMISC, 0);
	len = mac_tables(buf, &table_uc, 1, &mc_b, 1);
	CHECK_EQ(len, 4 + 6 + 4 + 6);
	CHECK_EQ(net_rx_filter_control(&f, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET,
				       buf, len), VIRTIO_NET_OK);
	CHECK_EQ(f.nr_uc, 1);
	CHECK_EQ(f.nr_mc, 1);
	CHECK(net_rx_filter_accepts(&f, table_uc));
	CHECK(net_rx_filter_accepts(&f, own_mac));
	CHECK(net_rx_filter_accepts(&f, mc_b));
	CHECK(!net_rx_filter_accepts(&f, mc_a));
	CHECK(!net_rx_filter_accepts(&f, other_uc));
	/* A new table replaces the old one; empty tables are fine. */
	len = mac_tables(buf, NULL, 0, NULL, 0);
	CHECK_EQ(len, 8);
	CHECK_EQ(net_rx_filter_control(&f, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET,
				       buf, len), VIRTIO_NET_OK);
	CHECK(!net_rx_filter_accepts(&f, table_uc));
	CHECK(!net_rx_filter_accepts(&f, mc_b));
	CHECK(net_rx_filter_accepts(&f, own_mac));
}

static void full_and_overflowing_tables(void)
{
	static uint8_t many[NET_FILTER_MAX_MACS + 1][6];
	struct net_rx_filter f;
	uint8_t buf[TABLE_BUF_MAX];
	size_t len;

	for (unsigned i = 0; i < NET_FILTER_MAX_MACS + 1; i++) {
		static const uint8_t base[6] = { 0x02, 0x10, 0x00, 0x00, 0x00, 0x00 };

		memcpy(many[i], base, 6);
		many[i][4] = (uint8_t)(i >> 8);
		many[i][5] = (uint8_t)i;
	}
	net_rx_filter_reset(&f, own_mac);
	rx_mode(&f, VIRTIO_NET_CTRL_RX_PROMISC, 0);
	/* Exactly the limit still filters. */
	len = mac_tables(buf, (const uint8_t (*)[6])many, NET_FILTER_MAX_MACS, NULL, 0);
	CHECK_EQ(net_rx_filter_control(&f, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET,
				       buf, len), VIRTIO_NET_OK);
	CHECK(!f.uc_overflow);
	CHECK_EQ(f.nr_uc, NET_FILTER_MAX_MACS);
	CHECK(net_rx_filter_accepts(&f, many[NET_FILTER_MAX_MACS - 1]));
	CHECK(!net_rx_filter_accepts(&f, many[NET_FILTER_MAX_MACS]));
	CHECK(!net_rx_filter_accepts(&f, other_uc));

	/* One more unicast address: every unicast frame passes, multicast
	 * is still filtered. */
	len = mac_tables(buf, (const uint8_t (*)[6])many, NET_FILTER_MAX_MACS + 1, NULL, 0);
	CHECK_EQ(net_rx_filter_control(&f, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET,
				       buf, len), VIRTIO_NET_OK);
	CHECK(f.uc_overflow);
	CHECK(net_rx_filter_accepts(&f, other_uc));
	CHECK(net_rx_filter_accepts(&f, many[NET_FILTER_MAX_MACS]));
	CHECK(!net_rx_filter_accepts(&f, mc_a));

	/* The same on the multicast side; the next table ends the overflow. */
	for (unsigned i = 0; i < NET_FILTER_MAX_MACS + 1; i++)
		many[i][0] |= 1;
	len = mac_tables(buf, NULL, 0, (const uint8_t (*)[6])many, NET_FILTER_MAX_MACS + 1);
	CHECK_EQ(net_rx_filter_control(&f, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET,
				       buf, len), VIRTIO_NET_OK);
	CHECK(!f.uc_overflow);
	CHECK(f.mc_overflow);
	CHECK(net_rx_filter_accepts(&f, mc_a));
	CHECK(!net_rx_filter_accepts(&f, other_uc));
	len = mac_tables(buf, NULL, 0, NULL, 0);
	CHECK_EQ(net_rx_filter_control(&f, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET,
				       buf, len), VIRTIO_NET_OK);
	CHECK(!f.mc_overflow);
	CHECK(!net_rx_filter_accepts(&f, mc_a));
}

/* Every way the lengths can disagree is refused and changes nothing. */
static void malformed_tables_change_nothing(void)
{
	struct net_rx_filter f, before;
	uint8_t buf[TABLE_BUF_MAX];
	size_t len;

	net_rx_filter_reset(&f, own_mac);
	rx_mode(&f, VIRTIO_NET_CTRL_RX_PROMISC, 0);
	len = mac_tables(buf, &table_uc, 1, &mc_b, 1);
	CHECK_EQ(net_rx_filter_control(&f, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET,
				       buf, len), VIRTIO_NET_OK);
	before = f;

	/* Every truncation: no count, a short count, a short address, no
	 * second table, a short second table. */
	for (size_t cut = 0; cut < len; cut++) {
		CHECK_EQ(net_rx_filter_control(&f, VIRTIO_NET_CTRL_MAC,
					       VIRTIO_NET_CTRL_MAC_TABLE_SET, buf, cut),
			 VIRTIO_NET_ERR);
		CHECK(same_filter(&f, &before));
	}
	/* Trailing bytes after the second table. */
	buf[len] = 0;
	CHECK_EQ(net_rx_filter_control(&f, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET,
				       buf, len + 1), VIRTIO_NET_ERR);
	CHECK(same_filter(&f, &before));
	/* A count far beyond the data, and one that would wrap 32-bit sums. */
	len = mac_tables(buf, &table_uc, 1, NULL, 0);
	buf[0] = 0xff; buf[1] = 0xff; buf[2] = 0xff; buf[3] = 0xff;
	CHECK_EQ(net_rx_filter_control(&f, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET,
				       buf, len), VIRTIO_NET_ERR);
	buf[0] = 2; buf[1] = 0; buf[2] = 0; buf[3] = 0;
	CHECK_EQ(net_rx_filter_control(&f, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET,
				       buf, len), VIRTIO_NET_ERR);
	CHECK(same_filter(&f, &before));
	/* A good first table with an overlong multicast count. */
	len = mac_tables(buf, &table_uc, 1, &mc_b, 1);
	buf[10] = 0x00; buf[11] = 0x00; buf[12] = 0x00; buf[13] = 0x40;
	CHECK_EQ(net_rx_filter_control(&f, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET,
				       buf, len), VIRTIO_NET_ERR);
	CHECK(same_filter(&f, &before));
	CHECK(net_rx_filter_accepts(&f, table_uc));
	CHECK(!net_rx_filter_accepts(&f, other_uc));
}

static void rx_commands_check_length_and_command(void)
{
	struct net_rx_filter f, before;
	uint8_t two[2] = { 0, 0 };

	net_rx_filter_reset(&f, own_mac);
	before = f;
	CHECK_EQ(net_rx_filter_control(&f, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC,
				       two, 2), VIRTIO_NET_ERR);
	CHECK_EQ(net_rx_filter_control(&f, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC,
				       two, 0), VIRTIO_NET_ERR);
	/* ALLUNI, NOMULTI and friends (VIRTIO_NET_F_CTRL_RX_EXTRA) are not
	 * offered. */
	CHECK_EQ(net_rx_filter_control(&f, VIRTIO_NET_CTRL_RX, 2, two, 1), VIRTIO_NET_ERR);
	CHECK_EQ(net_rx_filter_control(&f, VIRTIO_NET_CTRL_RX, 0xff, two, 1), VIRTIO_NET_ERR);
	/* Classes the filter does not know (VLAN, ANNOUNCE, MQ). */
	CHECK_EQ(net_rx_filter_control(&f, 2, 0, two, 1), VIRTIO_NET_ERR);
	CHECK_EQ(net_rx_filter_control(&f, 4, 0, two, 2), VIRTIO_NET_ERR);
	CHECK_EQ(net_rx_filter_control(&f, VIRTIO_NET_CTRL_MAC, 2, two, 2), VIRTIO_NET_ERR);
	CHECK(same_filter(&f, &before));
}

static void mac_addr_set(void)
{
	struct net_rx_filter f, before;
	uint8_t seven[7] = { 0x02, 1, 2, 3, 4, 5, 6 };

	net_rx_filter_reset(&f, own_mac);
	rx_mode(&f, VIRTIO_NET_CTRL_RX_PROMISC, 0);
	CHECK_EQ(net_rx_filter_control(&f, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET,
				       other_uc, 6), VIRTIO_NET_OK);
	CHECK(memcmp(f.mac, other_uc, 6) == 0);
	CHECK(net_rx_filter_accepts(&f, other_uc));
	CHECK(!net_rx_filter_accepts(&f, own_mac));

	before = f;
	/* A group address cannot be a station's own. */
	CHECK_EQ(net_rx_filter_control(&f, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET,
				       mc_a, 6), VIRTIO_NET_ERR);
	CHECK_EQ(net_rx_filter_control(&f, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET,
				       broadcast, 6), VIRTIO_NET_ERR);
	CHECK_EQ(net_rx_filter_control(&f, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET,
				       seven, 5), VIRTIO_NET_ERR);
	CHECK_EQ(net_rx_filter_control(&f, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET,
				       seven, 7), VIRTIO_NET_ERR);
	CHECK(same_filter(&f, &before));

	/* A reset brings back the address it is given. */
	net_rx_filter_reset(&f, own_mac);
	CHECK(memcmp(f.mac, own_mac, 6) == 0);
}

TEST_MAIN("net_rx_filter",
	  TEST_CASE(promiscuous_after_reset),
	  TEST_CASE(own_mac_and_broadcast_without_promisc),
	  TEST_CASE(allmulti_takes_every_multicast),
	  TEST_CASE(tables_add_addresses),
	  TEST_CASE(full_and_overflowing_tables),
	  TEST_CASE(malformed_tables_change_nothing),
	  TEST_CASE(rx_commands_check_length_and_command),
	  TEST_CASE(mac_addr_set))
