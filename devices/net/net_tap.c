#include "net_tap.h"
#include "../../vmm/error_text.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/ethtool.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../../vmm/log.h"
#include "../virtio/iov.h"

#define TUN_PATH        "/dev/net/tun"
#define TAP_IFF         (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR)
#define TUN_F_TSO_MASK  (TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN)

struct net_tap {
	struct net_backend be;
	char name[IFNAMSIZ];          /* as the kernel knows it */
	int fd[NET_MAX_PAIRS];
	bool multi_queue;
	/* Which queues feed the TAP now; pair 0's thread only. */
	bool attached[NET_MAX_PAIRS];
	/* Frames in more pieces than writev/readv take go through these;
	 * each is used by its pair's thread alone, allocated on first need. */
	uint8_t *bounce[NET_MAX_PAIRS];
	/* Where the tail of a frame too long for the guest's buffers goes. */
	uint8_t spill[NET_MAX_PAIRS];
	bool tx_error_logged;         /* atomic: any pair's thread */
};

static struct net_tap *to_tap(struct net_backend *be)
{
	return (struct net_tap *)be;
}

static uint8_t *bounce_buffer(struct net_tap *tap, unsigned pair)
{
	if (!tap->bounce[pair])
		tap->bounce[pair] = malloc(NET_MAX_FRAME + 1);
	return tap->bounce[pair];
}

/* ---- frames: each pair's thread ---- */

/* Logged once per backend: a guest that keeps sending frames the TAP
 * refuses must not flood the terminal. */
static void note_tx_drop(struct net_tap *tap, int error)
{
	if (__atomic_exchange_n(&tap->tx_error_logged, true, __ATOMIC_RELAXED))
		return;
	log_warn("TAP '%s': dropping frames from the guest that the TAP refuses: %s"
		 " (logged once)", tap->name, strerror(error));
}

/* A frame in more pieces than one writev takes: gathered into one buffer
 * (at most the largest frame a TAP takes; a longer one is dropped). */
static ssize_t write_gathered(struct net_tap *tap, unsigned pair,
			      const struct iovec *iov, unsigned iovcnt)
{
	uint8_t *buf = bounce_buffer(tap, pair);
	size_t len = 0;

	if (!buf) {
		errno = ENOMEM;
		return -1;
	}
	for (unsigned i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > NET_MAX_FRAME - len) {
			errno = EMSGSIZE;
			return -1;
		}
		len += iov[i].iov_len;
	}
	iov_to_buf(iov, iovcnt, 0, buf, len);
	return write(tap->fd[pair], buf, len);
}

static int tap_transmit(struct net_backend *be, unsigned pair,
			const struct iovec *iov, unsigned iovcnt)
{
	struct net_tap *tap = to_tap(be);
	ssize_t n;

	/* The iovec starts with the virtio_net_hdr_v1, which is what the TAP
	 * reads in front of each frame: guest RAM goes to the kernel as is. */
	do {
		if (iovcnt > IOV_MAX)
			n = write_gathered(tap, pair, iov, iovcnt);
		else
			n = writev(tap->fd[pair], iov, (int)iovcnt);
	} while (n < 0 && errno == EINTR);
	if (n >= 0)
		return 0;
	if (errno == EAGAIN)
		return -EAGAIN;
	/* EINVAL for a header the kernel refuses (a GSO type it does not
	 * know, csum_start beyond the frame: a guest's doing), EIO while the
	 * TAP is down, ...: the frame is lost, the NIC goes on. */
	note_tx_drop(tap, errno);
	return 0;
}

static size_t iov_capacity(const struct iovec *iov, unsigned iovcnt)
{
	size_t total = 0;

	for (unsigned i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > SIZE_MAX - total)
			return SIZE_MAX;
		total += iov[i].iov_len;
	}
	return total;
}

/* A frame longer than the buffers offered is cut to fit and read() says
 * only what it copied, so a cut frame would look whole. One spare byte
 * after the buffers tells: a frame that reaches it did not fit. */
static ssize_t read_frame(struct net_tap *tap, unsigned pair, const struct iovec *iov,
			  unsigned iovcnt, size_t *room)
{
	struct iovec v[IOV_MAX];
	uint8_t *buf;
	ssize_t n;

	/* More pieces than readv takes: the first ones do when they hold the
	 * largest frame, else the frame goes through one buffer. */
	if (iovcnt > IOV_MAX - 1 && iov_capacity(iov, IOV_MAX - 1) >= NET_MAX_FRAME)
		iovcnt = IOV_MAX - 1;
	if (iovcnt <= IOV_MAX - 1) {
		memcpy(v, iov, iovcnt * sizeof(*iov));
		v[iovcnt] = (struct iovec){ &tap->spill[pair], 1 };
		*room = iov_capacity(iov, iovcnt);
		return readv(tap->fd[pair], v, (int)iovcnt + 1);
	}
	buf = bounce_buffer(tap, pair);
	if (!buf) {
		errno = ENOMEM;
		return -1;
	}
	n = read(tap->fd[pair], buf, NET_MAX_FRAME + 1);
	*room = iov_capacity(iov, iovcnt);
	if (*room > NET_MAX_FRAME)
		*room = NET_MAX_FRAME;
	if (n > 0 && (size_t)n <= *room)
		iov_from_buf(iov, iovcnt, 0, buf, (size_t)n);
	return n;
}

static ssize_t tap_receive(struct net_backend *be, unsigned pair,
			   const struct iovec *iov, unsigned iovcnt)
{
	struct net_tap *tap = to_tap(be);
	size_t room;
	ssize_t n;

	do
		n = read_frame(tap, pair, iov, iovcnt, &room);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* The guest must not get a torn frame. */
	if ((size_t)n > room)
		return -EMSGSIZE;
	return n;
}

/* ---- control: pair 0's thread ---- */

static unsigned tun_offloads_for(uint64_t guest_features)
{
	unsigned flags = 0;

	/* Segmentation offloads hand over frames with partial checksums, so
	 * they mean nothing without the checksum offload. */
	if (!(guest_features & (1ull << VIRTIO_NET_F_GUEST_CSUM)))
		return 0;
	flags |= TUN_F_CSUM;
	if (guest_features & (1ull << VIRTIO_NET_F_GUEST_TSO4))
		flags |= TUN_F_TSO4;
	if (guest_features & (1ull << VIRTIO_NET_F_GUEST_TSO6))
		flags |= TUN_F_TSO6;
	if ((flags & (TUN_F_TSO4 | TUN_F_TSO6)) &&
	    (guest_features & (1ull << VIRTIO_NET_F_GUEST_ECN)))
		flags |= TUN_F_TSO_ECN;
	return flags;
}

static int tap_set_offloads(struct net_backend *be, uint64_t guest_features)
{
	struct net_tap *tap = to_tap(be);
	unsigned flags = tun_offloads_for(guest_features);

	/* The offloads are the device's, not a queue's: the attached queues
	 * are enough, and a detached one is best left alone. */
	for (unsigned i = 0; i < be->nr_pairs; i++) {
		if (!tap->attached[i])
			continue;
		if (ioctl(tap->fd[i], TUNSETOFFLOAD, (unsigned long)flags) < 0)
			return -errno;
	}
	return 0;
}

static int set_queue(struct net_tap *tap, unsigned i, bool attach)
{
	struct ifreq ifr = { .ifr_flags = attach ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE };

	if (tap->attached[i] == attach)
		return 0;
	/* EINVAL: the queue is already in that state. */
	if (ioctl(tap->fd[i], TUNSETQUEUE, &ifr) < 0 && errno != EINVAL)
		return -errno;
	tap->attached[i] = attach;
	return 0;
}

static int tap_set_active_pairs(struct net_backend *be, unsigned nr)
{
	struct net_tap *tap = to_tap(be);
	int ret;

	if (nr < 1 || nr > be->nr_pairs)
		return -EINVAL;
	if (!tap->multi_queue)
		return 0;
	/* Attaching first keeps at least one queue on the TAP throughout. */
	for (unsigned i = 0; i < nr; i++)
		if ((ret = set_queue(tap, i, true)) < 0)
			return ret;
	for (unsigned i = nr; i < be->nr_pairs; i++)
		if ((ret = set_queue(tap, i, false)) < 0)
			return ret;
	return 0;
}

static void tap_destroy(struct net_backend *be)
{
	struct net_tap *tap = to_tap(be);

	/* A TAP this run created goes away with its last fd; a persistent
	 * one (ip tuntap add) stays for the next user. */
	for (unsigned i = 0; i < NET_MAX_PAIRS; i++) {
		if (tap->fd[i] >= 0)
			close(tap->fd[i]);
		free(tap->bounce[i]);
	}
	free(tap);
}

static const struct net_backend_ops tap_ops = {
	.transmit = tap_transmit,
	.receive = tap_receive,
	.set_offloads = tap_set_offloads,
	.set_active_pairs = tap_set_active_pairs,
	.destroy = tap_destroy,
};

/* ---- opening ---- */

static int open_tun(char *err, size_t errlen)
{
	int fd = open(TUN_PATH, O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	if (errno == ENOENT)
		return write_error(err, errlen, "no " TUN_PATH " (is the tun module loaded?)");
	if (errno == ENODEV || errno == ENXIO)
		return write_error(err, errlen, TUN_PATH " has no driver behind it (is the tun module loaded?)");
	return write_error(err, errlen, "cannot open " TUN_PATH ": %s", strerror(errno));
}

/* What the network device of that name is, to explain an EINVAL from
 * TUNSETIFF: ethtool's driver info says "tun" for both kinds and the
 * bus field says "tun" or "tap". Works without privileges, and in the
 * caller's network namespace, unlike /sys. */
enum dev_identity { DEV_UNKNOWN, DEV_ABSENT, DEV_NOT_TUN, DEV_TUN, DEV_TAP };

static enum dev_identity identify(const char *name, char *driver, size_t driverlen)
{
	struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr = { .ifr_data = (char *)&info };
	enum dev_identity id = DEV_UNKNOWN;
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return DEV_UNKNOWN;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(s, SIOCETHTOOL, &ifr) == 0) {
		snprintf(driver, driverlen, "%.*s", (int)sizeof(info.driver), info.driver);
		if (strcmp(driver, "tun"))
			id = DEV_NOT_TUN;
		else
			id = strncmp(info.bus_info, "tap", sizeof(info.bus_info)) ? DEV_TUN : DEV_TAP;
	} else if (errno == ENODEV) {
		id = DEV_ABSENT;
	} else if (errno == EOPNOTSUPP) {
		/* No ethtool at all: no TUN/TAP, which has it. */
		snprintf(driver, driverlen, "?");
		id = DEV_NOT_TUN;
	}
	close(s);
	return id;
}

static int explain_einval(const char *name, bool multi_queue, char *err, size_t errlen)
{
	char driver[40] = "";

	switch (identify(name, driver, sizeof(driver))) {
	case DEV_NOT_TUN:
		if (!strcmp(driver, "?"))
			return write_error(err, errlen, "'%s' is a network device that is not a TAP", name);
		return write_error(err, errlen, "'%s' is a network device that is not a TAP (driver %s)",
			    name, driver);
	case DEV_TUN:
		return write_error(err, errlen, "'%s' is a TUN device (IP packets), not a TAP (Ethernet frames):"
			    " recreate it with 'ip tuntap add dev %s mode tap'", name, name);
	case DEV_TAP:
		if (multi_queue)
			return write_error(err, errlen, "TAP '%s' exists without multi_queue: recreate it with"
				    " 'ip tuntap add dev %s mode tap multi_queue' or use queues=1",
				    name, name);
		return write_error(err, errlen, "TAP '%s' exists with multi_queue and refused a queue", name);
	case DEV_ABSENT:
	case DEV_UNKNOWN:
		break;
	}
	return write_error(err, errlen, "the kernel refused TAP '%s' (TUNSETIFF: %s)", name, strerror(EINVAL));
}

static int explain_setiff(const char *name, int error, bool multi_queue, char *err, size_t errlen)
{
	switch (error) {
	case EPERM:
	case EACCES:
		return write_error(err, errlen, "creating or attaching TAP '%s' needs CAP_NET_ADMIN (or a TAP"
			    " created for this user with 'ip tuntap add dev %s mode tap user USER')",
			    name, name);
	case EBUSY:
		return write_error(err, errlen, "TAP '%s' is in use by another process", name);
	case EINVAL:
		return explain_einval(name, multi_queue, err, errlen);
	case E2BIG:
		return write_error(err, errlen, "TAP '%s' has no room for more queues", name);
	default:
		return write_error(err, errlen, "TUNSETIFF for TAP '%s': %s", name, strerror(error));
	}
}

static int attach_queue(int fd, char name[IFNAMSIZ], bool multi_queue)
{
	struct ifreq ifr = { .ifr_flags = TAP_IFF | (multi_queue ? IFF_MULTI_QUEUE : 0) };

	memcpy(ifr.ifr_name, name, IFNAMSIZ);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		return -errno;
	/* A name with %d is numbered by the kernel: later queues must ask
	 * for the device it made. */
	memcpy(name, ifr.ifr_name, IFNAMSIZ);
	name[IFNAMSIZ - 1] = '\0';
	return 0;
}

/* The first queue decides how the others attach: a single queue may join
 * an existing multi_queue TAP too, which the kernel only allows with
 * IFF_MULTI_QUEUE (without it, EINVAL). */
static int attach_first_queue(struct net_tap *tap, unsigned nr_pairs, unsigned tun_features,
			      char *err, size_t errlen)
{
	int ret;

	tap->multi_queue = nr_pairs > 1;
	ret = attach_queue(tap->fd[0], tap->name, tap->multi_queue);
	if (ret == -EINVAL && !tap->multi_queue && (tun_features & IFF_MULTI_QUEUE)) {
		char driver[40];

		if (identify(tap->name, driver, sizeof(driver)) == DEV_TAP &&
		    attach_queue(tap->fd[0], tap->name, true) == 0) {
			tap->multi_queue = true;
			return 0;
		}
	}
	if (ret < 0)
		return explain_setiff(tap->name, -ret, tap->multi_queue, err, errlen);
	return 0;
}

static int set_vnet_header(struct net_tap *tap, int fd, char *err, size_t errlen)
{
	int len = NET_VNET_HDR_LEN;

	if (ioctl(fd, TUNSETVNETHDRSZ, &len) < 0)
		return write_error(err, errlen, "TAP '%s': TUNSETVNETHDRSZ %d: %s", tap->name, len,
			    strerror(errno));
	/* The virtio 1 header is little-endian, and a TAP reads and writes
	 * its header in the host's order unless TUNSETVNETLE says otherwise:
	 * on a little-endian host (x86) the two already agree. */
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
	{
		int le = 1;

		if (ioctl(fd, TUNSETVNETLE, &le) < 0)
			return write_error(err, errlen, "TAP '%s': TUNSETVNETLE: %s", tap->name,
				    strerror(errno));
	}
#endif
	return 0;
}

/* Which of the TAP's receive offloads this kernel takes, tried one by one
 * on the way up (each needs the ones before), then all off again: a
 * persistent TAP keeps what its last user set, and frames with partial
 * checksums or 64 KiB segments must not reach a guest that has not asked
 * for them. */
static int probe_offloads(struct net_tap *tap, char *err, size_t errlen)
{
	static const struct { unsigned tun; unsigned host, guest; } steps[] = {
		{ TUN_F_CSUM, VIRTIO_NET_F_CSUM, VIRTIO_NET_F_GUEST_CSUM },
		{ TUN_F_TSO4, VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_GUEST_TSO4 },
		{ TUN_F_TSO6, VIRTIO_NET_F_HOST_TSO6, VIRTIO_NET_F_GUEST_TSO6 },
		{ TUN_F_TSO_ECN, VIRTIO_NET_F_HOST_ECN, VIRTIO_NET_F_GUEST_ECN },
	};
	unsigned taken = 0;
	uint64_t features = 0;

	for (unsigned i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		unsigned try = taken | steps[i].tun;

		if ((steps[i].tun & TUN_F_TSO_MASK) && !(taken & TUN_F_CSUM))
			break;
		if (steps[i].tun == TUN_F_TSO_ECN && !(taken & (TUN_F_TSO4 | TUN_F_TSO6)))
			break;
		if (ioctl(tap->fd[0], TUNSETOFFLOAD, (unsigned long)try) < 0)
			continue;
		taken = try;
		/* HOST_*: the guest may send such frames, which a TAP with a
		 * vnet header always takes; GUEST_*: the TAP may hand them
		 * over, once TUNSETOFFLOAD says so. */
		features |= 1ull << steps[i].host | 1ull << steps[i].guest;
	}
	if (ioctl(tap->fd[0], TUNSETOFFLOAD, 0ul) < 0)
		return write_error(err, errlen, "TAP '%s': TUNSETOFFLOAD: %s", tap->name, strerror(errno));
	tap->be.offload_features = features;
	return 0;
}

static int open_queues(struct net_tap *tap, unsigned nr_pairs, char *err, size_t errlen)
{
	unsigned features = 0;
	int ret;

	for (unsigned i = 0; i < nr_pairs; i++) {
		tap->fd[i] = open_tun(err, errlen);
		if (tap->fd[i] < 0)
			return -1;
		if (i == 0 && ioctl(tap->fd[0], TUNGETFEATURES, &features) < 0)
			return write_error(err, errlen, "this kernel's TUN/TAP driver is too old"
				    " (TUNGETFEATURES: %s)", strerror(errno));
		if (i == 0 && !(features & IFF_VNET_HDR))
			return write_error(err, errlen, "this kernel's TAP driver has no IFF_VNET_HDR");
		if (i == 0 && nr_pairs > 1 && !(features & IFF_MULTI_QUEUE))
			return write_error(err, errlen, "this kernel's TAP driver has no multiqueue"
				    " support: use queues=1");
		if (i == 0)
			ret = attach_first_queue(tap, nr_pairs, features, err, errlen);
		else if ((ret = attach_queue(tap->fd[i], tap->name, true)) < 0)
			ret = explain_setiff(tap->name, -ret, true, err, errlen);
		if (ret < 0)
			return -1;
		tap->attached[i] = true;
		if (set_vnet_header(tap, tap->fd[i], err, errlen) < 0)
			return -1;
	}
	return 0;
}

int net_tap_open(struct net_backend **out, const struct net_config *cfg,
		 unsigned nr_pairs, char *err, size_t errlen)
{
	struct net_tap *tap;

	if (nr_pairs < 1 || nr_pairs > NET_MAX_PAIRS)
		return write_error(err, errlen, "queues %u out of range 1..%d", nr_pairs, NET_MAX_PAIRS);
	if (!cfg->tap_name[0])
		return write_error(err, errlen, "tap needs a name: tap=NAME");
	tap = calloc(1, sizeof(*tap));
	if (!tap)
		return write_error(err, errlen, "out of memory");
	for (unsigned i = 0; i < NET_MAX_PAIRS; i++)
		tap->fd[i] = tap->be.rx_fd[i] = tap->be.tx_fd[i] = -1;
	snprintf(tap->name, sizeof(tap->name), "%s", cfg->tap_name);
	tap->be.ops = &tap_ops;
	tap->be.kind = "tap";
	tap->be.nr_pairs = nr_pairs;

	if (open_queues(tap, nr_pairs, err, errlen) < 0 ||
	    probe_offloads(tap, err, errlen) < 0) {
		tap_destroy(&tap->be);
		return -1;
	}
	/* The device waits for readability to receive and, after -EAGAIN,
	 * for writability to transmit, on the queue's own fd. */
	for (unsigned i = 0; i < nr_pairs; i++)
		tap->be.rx_fd[i] = tap->be.tx_fd[i] = tap->fd[i];
	tap->be.rx_fd_is_eventfd = false;
	*out = &tap->be;
	return 0;
}
