/* `gvmm run`: checks every input before anything is started, then runs the
 * VM, building a fresh one each time the guest reboots. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../display/display.h"
#include "../display/spice_display.h"
#include "../display/spice_ticket.h"
#include "../firmware/boot.h"
#include "../firmware/boot_disk.h"
#include "../firmware/cpuid.h"
#include "../devices/net/net_slirp.h"
#include "../devices/vfio/vfio_host.h"
#include "api_socket.h"
#include "cli_parse.h"
#include "commands.h"
#include "crash_dump.h"
#include "event_loop.h"
#include "kvm.h"
#include "log.h"
#include "module_loader.h"
#include "nic_backends.h"
#include "serial_console.h"
#include "vcpu.h"
#include "vm.h"

#define DEFAULT_MEMORY   (512ull << 20)
#define MIN_MEMORY       (32ull << 20)
#define DEFAULT_CMDLINE  "console=ttyS0"
#define VIRTIO_CMDLINE   "console=hvc0"
#define MAX_DISKS        16

struct run_options {
	const char *kernel_path;
	const char *initrd_path;
	const char *cmdline;
	uint64_t ram_size;
	unsigned nr_cpus;
	struct serial_config serial;
	bool no_reboot;
	const char *crash_dump_path;  /* NULL: none */
	bool hugepages;
	bool shared_memory;
	bool rng;
	bool virtio_console;
	bool cmdline_given;
	bool boot_disk_given;
	unsigned boot_disk;       /* which --disk to boot without --kernel, from 0 */
	const char *api_socket_path;
	unsigned nr_disks;
	struct virtio_blk_config disks[MAX_DISKS];
	unsigned nr_nets;
	struct net_config nets[NET_MAX_NICS];
	const char *net_args[NET_MAX_NICS];
	bool gpu_given;
	struct virtio_gpu_config gpu;
	unsigned nr_vfio;
	struct vfio_option vfio[VFIO_MAX_DEVICES];
	bool spice_given;
	bool spice_password_on_cmdline;   /* password=: other users can read it */
	struct spice_options spice;
};

/* A file mapped for its headers and kept open for pread (boot_copy). */
struct mapped_file {
	const uint8_t *data;    /* NULL: none */
	size_t len;
	int fd;                 /* open while data is mapped */
};

/* Where signals and console escapes find the VM that is running now. */
struct run_state {
	struct vm *vm;
	int signal_fd;
	int signal;      /* a stop signal seen, even between VMs */
};

static void print_run_usage(FILE *out)
{
	fprintf(out,
		"usage: gvmm run --kernel PATH [OPTIONS]\n"
		"       gvmm run --disk IMAGE [--boot-disk N] [OPTIONS]\n"
		"\n"
		"Boots a Linux kernel (bzImage, or an ELF vmlinux with a PVH entry note):\n"
		"the one --kernel names, or else the one the distribution installed on a\n"
		"disk configured.\n"
		"\n"
		"  --kernel PATH      the kernel to boot (read again at each guest reboot)\n"
		"  --initrd PATH      an initramfs to hand to the kernel (the same)\n"
		"  --cmdline STR      kernel command line (default: \"" DEFAULT_CMDLINE "\");\n"
		"                     without --kernel, added after the disk's own\n"
		"  --boot-disk N      without --kernel, boot the distribution on the Nth\n"
		"                     --disk, counting from 0 (default 0): its partition\n"
		"                     table (GPT, MBR or none) and ext2/3/4 /boot are read,\n"
		"                     never mounted, and gvmm boots, in this order, the\n"
		"                     first Boot Loader Specification entry\n"
		"                     (/boot/loader/entries), the default entry of\n"
		"                     /boot/grub/grub.cfg, or Debian's /vmlinuz and\n"
		"                     /initrd.img links (with root=UUID=... ro), adding\n"
		"                     the console argument and --cmdline. The kernel may\n"
		"                     be up to 256 MiB, its initrds 1 GiB together.\n"
		"                     Encrypted (LUKS), LVM and FAT volumes are not read:\n"
		"                     such a system needs --kernel\n"
		"  --memory SIZE[,shared=on]\n"
		"                     guest RAM, e.g. 512M or 4G (default 512M, at least 32M);\n"
		"                     private memory with transparent huge pages advised,\n"
		"                     or with shared=on a memfd other processes may map\n"
		"  --cpus N           number of vCPUs, 1 to 255 (default 1)\n"
		"  --serial MODE      the console goes to: stdio (default), file:PATH, or none\n"
		"  --serial file:PATH[,max-size=SIZE]\n"
		"                     a new file is created mode 0600 (an existing one is\n"
		"                     truncated and keeps its mode; a symbolic link is\n"
		"                     refused); a regular file stops growing at max-size\n"
		"                     (default 64M, 0 for no limit): later output is dropped\n"
		"  --console DEVICE   which guest device is the console: uart (COM1, ttyS0;\n"
		"                     the default) or virtio (a virtio console, hvc0; the\n"
		"                     default command line then says console=hvc0)\n"
		"  --no-reboot        exit with status 3 when the guest reboots, instead of\n"
		"                     restarting it\n"
		"  --crash-dump PATH  when the guest dies (a triple fault, a KVM internal\n"
		"                     error), write its RAM to PATH (mode 0600, replacing a\n"
		"                     file there) for a post-mortem: byte N is RAM byte N,\n"
		"                     guest-physical from 0, RAM above 4 GiB after the rest.\n"
		"                     It holds all the guest's secrets\n"
		"  --hugepages        back guest RAM with reserved 2 MiB hugetlbfs pages\n"
		"                     (reserve them in /proc/sys/vm/nr_hugepages first)\n"
		"  --disk PATH[,ro][,serial=STR][,cache=none|writeback]\n"
		"                     a virtio-blk disk from a raw image or block device;\n"
		"                     repeat for more (up to 16). cache=none uses O_DIRECT;\n"
		"                     the image is locked against a second writer\n"
		"  --net user[,hostfwd=tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT]...\n"
		"            [,host-loopback=on|off][,mtu=N][,mac=MAC]\n"
		"                     a virtio-net NIC behind user-mode NAT (libslirp; the\n"
		"                     default): the guest gets 10.0.2.15 by DHCP, 10.0.2.2 is\n"
		"                     the host, 10.0.2.3 the DNS server; hostfwd forwards a\n"
		"                     host port (HOSTADDR defaults to 127.0.0.1) to the guest.\n"
		"                     host-loopback=on lets the guest reach the host's\n"
		"                     127.0.0.1 at 10.0.2.2, and with it every service there\n"
		"                     that trusts local callers (default off). mtu is the\n"
		"                     guest link's MTU, 576 to 65520 (default 65520: fewer,\n"
		"                     larger frames; the NAT's far ends are host sockets)\n"
		"  --net tap=NAME[,queues=N|cpus][,mac=MAC]\n"
		"                     a virtio-net NIC on TAP device NAME (existing, or created\n"
		"                     with CAP_NET_ADMIN), with checksum and TSO offloads;\n"
		"                     queues > 1 needs a multi_queue TAP; cpus means one queue\n"
		"                     pair per vCPU. MAC defaults to a random 52:54:00:xx:xx:xx\n"
		"  --net none         no network; repeat --net for more NICs (up to 8)\n"
		"  --gpu [2d|virgl][,width=W,height=H][,outputs=N][,max-memory=SIZE]\n"
		"        [,rendernode=PATH][,blob-memory=SIZE]\n"
		"                     a virtio-gpu display adapter, 2D (the default); every\n"
		"                     output's preferred mode is WxH (default 1280x800), 1 to\n"
		"                     16 outputs; the guest's resources and what the display\n"
		"                     holds for the outputs it shows (4 frames each) may\n"
		"                     take at most max-memory of host RAM (default 256M,\n"
		"                     or 8 frames of WxH per output if more).\n"
		"                     virgl adds OpenGL 3D (Mesa's virgl driver in the guest)\n"
		"                     through virglrenderer on host EGL: on rendernode=PATH,\n"
		"                     else the first /dev/dri/renderD* that works, else\n"
		"                     software (llvmpipe). Frames are read back to SPICE; one\n"
		"                     virgl GPU per gvmm. A host where 3D cannot start is\n"
		"                     refused: use --gpu 2d there. virgl offers blob\n"
		"                     resources in a blob-memory window of guest addresses\n"
		"                     (a BAR; default 256M, a power of two 1M..8G; 0: no\n"
		"                     blobs); a mapped blob uses no guest RAM. Software GL's\n"
		"                     buffers are not whole pages: they cannot be mapped\n"
		"  --spice ADDR:PORT|:PORT|unix:PATH|ADDR\n"
		"          [,password-file=PATH|,password=SECRET|,disable-ticketing]\n"
		"          [,connect-file=PATH][,tls-port=PORT,x509-dir=DIR][,plaintext=on|off]\n"
		"          [,video-codec=LIST][,streaming-video=off|all|filter][,refresh-rate=HZ]\n"
		"          [,gl=on|off]\n"
		"                     show the GPU's outputs (then the displays of --vfio\n"
		"                     mediated devices) to SPICE clients (remote-viewer)\n"
		"                     and take their keyboard, pointer and window size; adds\n"
		"                     --gpu 2d if no --gpu is given, and a virtio keyboard,\n"
		"                     tablet and mouse. :PORT listens on 127.0.0.1.\n"
		"                     A TCP listener wants a password: without one, gvmm makes\n"
		"                     a random one and writes it, mode 0600, into a connection\n"
		"                     file (connect-file=PATH, else $XDG_RUNTIME_DIR/gvmm-PID.vv\n"
		"                     or /tmp/gvmm-UID/gvmm-PID.vv): 'remote-viewer FILE'.\n"
		"                     To choose it, use password-file=PATH (its first line;\n"
		"                     mode 0600) or the GVMM_SPICE_PASSWORD environment\n"
		"                     variable (then a file is written only with connect-file=):\n"
		"                     password= on the command line can be read by\n"
		"                     every local user. An address other than loopback needs a\n"
		"                     password you chose (or, knowingly, disable-ticketing).\n"
		"                     unix:PATH makes a socket only you can use (mode 0600),\n"
		"                     no password needed; it replaces only a stale socket.\n"
		"                     tls-port: every channel needs TLS (plaintext=on allows\n"
		"                     both); ADDR without a port listens on the TLS port only.\n"
		"                     refresh-rate caps updates per second (default 60).\n"
		"                     gl=on (unix: only): --gpu virgl's frames go to the\n"
		"                     client as dmabufs on the render node, with no copies\n"
		"                     in memory; the default where a GPU renders (not on\n"
		"                     software GL, whose clients cannot show them). Clients\n"
		"                     on the socket must then take GL (remote-viewer does;\n"
		"                     spice-server drops those that do not); gl=off sends\n"
		"                     pixels as over TCP\n"
		"  --vfio DDDD:BB:DD.F[,rom=on|off][,mmap=on|off]\n"
		"  --vfio sysfsdev=PATH[,rom=on|off][,mmap=on|off]\n"
		"                     pass a host PCI device bound to vfio-pci through to\n"
		"                     the guest (repeat for more, up to 8); sysfsdev= names\n"
		"                     it by its sysfs directory. Its BARs are mapped into\n"
		"                     the guest; mmap=off maps none, so that every BAR\n"
		"                     access is trapped and forwarded (slower: to measure\n"
		"                     that path, or when direct mapping misbehaves). Its\n"
		"                     MSI/MSI-X and INTx go straight to KVM, and all\n"
		"                     guest RAM is pinned for its DMA (needs\n"
		"                     'ulimit -l' of at least --memory, or CAP_IPC_LOCK);\n"
		"                     it is reset at start, at reboot and at exit. Its\n"
		"                     expansion ROM (up to 16 MiB) is offered read-only\n"
		"                     behind its ROM BAR; rom=off hides it. A mediated\n"
		"                     device's display (VFIO_DEVICE_QUERY_GFX_PLANE: a\n"
		"                     vGPU) is shown through --spice, one display after\n"
		"                     the GPU's, from a region or dma-bufs gvmm can map\n"
		"                     for reading (the kernel's mbochs sample must export\n"
		"                     its dma-bufs read-write for that: tools/build-mbochs).\n"
		"                     'gvmm check' lists the host's IOMMU groups.\n"
		"  --no-rng           leave out the virtio-rng entropy device\n"
		"  --api-socket PATH  a control socket (JSON lines: status, pause, resume,\n"
		"                     powerdown, quit); see 'gvmm ctl --help'\n"
		"  -h, --help         show this help\n"
		"\n"
		"With --serial stdio on a terminal, the terminal is in raw mode while the\n"
		"guest runs: press Ctrl-A x to quit gvmm, Ctrl-A Ctrl-A to send Ctrl-A.\n"
		"It is restored on any exit, a fatal signal included, and while gvmm is\n"
		"stopped (SIGTSTP).\n"
		"SIGINT, SIGTERM and SIGHUP stop the VM in order.\n"
		"\n"
		"Exit status: 0 guest powered off, 1 guest crashed or gvmm failed,\n"
		"2 bad usage, 3 guest rebooted with --no-reboot, 128+N stopped by signal N.\n");
}

static uint64_t host_ram_bytes(void)
{
	long pages = sysconf(_SC_PHYS_PAGES);
	long page_size = sysconf(_SC_PAGESIZE);

	return pages > 0 && page_size > 0 ? (uint64_t)pages * (uint64_t)page_size : UINT64_MAX;
}

/* Returns EXIT_SUCCESS or the usage error already reported. */
static int parse_run_options(int argc, char **argv, struct run_options *opt)
{
	enum { OPT_KERNEL = 256, OPT_INITRD, OPT_CMDLINE, OPT_MEMORY, OPT_CPUS,
	       OPT_SERIAL, OPT_NO_REBOOT, OPT_CRASH_DUMP, OPT_HUGEPAGES, OPT_DISK, OPT_NO_RNG,
	       OPT_API_SOCKET, OPT_CONSOLE, OPT_NET, OPT_GPU, OPT_SPICE, OPT_BOOT_DISK, OPT_VFIO };
	static const struct option longopts[] = {
		{ "kernel", required_argument, NULL, OPT_KERNEL },
		{ "initrd", required_argument, NULL, OPT_INITRD },
		{ "cmdline", required_argument, NULL, OPT_CMDLINE },
		{ "memory", required_argument, NULL, OPT_MEMORY },
		{ "cpus", required_argument, NULL, OPT_CPUS },
		{ "serial", required_argument, NULL, OPT_SERIAL },
		{ "no-reboot", no_argument, NULL, OPT_NO_REBOOT },
		{ "crash-dump", required_argument, NULL, OPT_CRASH_DUMP },
		{ "hugepages", no_argument, NULL, OPT_HUGEPAGES },
		{ "disk", required_argument, NULL, OPT_DISK },
		{ "no-rng", no_argument, NULL, OPT_NO_RNG },
		{ "api-socket", required_argument, NULL, OPT_API_SOCKET },
		{ "console", required_argument, NULL, OPT_CONSOLE },
		{ "net", required_argument, NULL, OPT_NET },
		{ "gpu", optional_argument, NULL, OPT_GPU },
		{ "spice", required_argument, NULL, OPT_SPICE },
		{ "boot-disk", required_argument, NULL, OPT_BOOT_DISK },
		{ "vfio", required_argument, NULL, OPT_VFIO },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char err[256];
	int c;

	memset(opt, 0, sizeof(*opt));
	opt->cmdline = DEFAULT_CMDLINE;
	opt->ram_size = DEFAULT_MEMORY;
	opt->nr_cpus = 1;
	opt->serial.mode = SERIAL_STDIO;
	opt->rng = true;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_KERNEL: opt->kernel_path = optarg; break;
		case OPT_INITRD: opt->initrd_path = optarg; break;
		case OPT_CMDLINE: opt->cmdline = optarg; opt->cmdline_given = true; break;
		case OPT_CONSOLE:
			if (strcmp(optarg, "uart") == 0)
				opt->virtio_console = false;
			else if (strcmp(optarg, "virtio") == 0)
				opt->virtio_console = true;
			else
				return usage_error("--console '%s': use uart or virtio", optarg);
			break;
		case OPT_MEMORY:
			if (parse_memory_option(optarg, &opt->ram_size, &opt->shared_memory) < 0)
				return usage_error("--memory '%s': give a size like 512M or 4G, "
						   "then ,shared=on if wanted", optarg);
			break;
		case OPT_CPUS:
			if (parse_count(optarg, 1, CPUID_MAX_VCPUS, &opt->nr_cpus) < 0)
				return usage_error("--cpus '%s': give a number from 1 to %u",
						   optarg, CPUID_MAX_VCPUS);
			break;
		case OPT_SERIAL:
			if (serial_config_parse(optarg, &opt->serial) < 0)
				return usage_error("--serial '%s': use stdio, file:PATH[,max-size=SIZE] "
						   "or none", optarg);
			break;
		case OPT_BOOT_DISK:
			if (parse_count(optarg, 0, MAX_DISKS - 1, &opt->boot_disk) < 0)
				return usage_error("--boot-disk '%s': give a --disk's number, from 0 "
						   "to %d", optarg, MAX_DISKS - 1);
			opt->boot_disk_given = true;
			break;
		case OPT_NO_REBOOT: opt->no_reboot = true; break;
		case OPT_CRASH_DUMP: opt->crash_dump_path = optarg; break;
		case OPT_HUGEPAGES: opt->hugepages = true; break;
		case OPT_NO_RNG: opt->rng = false; break;
		case OPT_API_SOCKET: opt->api_socket_path = optarg; break;
		case OPT_DISK:
			if (opt->nr_disks == MAX_DISKS)
				return usage_error("--disk: at most %d disks", MAX_DISKS);
			if (virtio_blk_parse_option(optarg, &opt->disks[opt->nr_disks],
						    err, sizeof(err)) < 0)
				return usage_error("--disk '%s': %s", optarg, err);
			opt->nr_disks++;
			break;
		case OPT_NET:
			if (opt->nr_nets == NET_MAX_NICS)
				return usage_error("--net: at most %d NICs", NET_MAX_NICS);
			if (net_option_parse(optarg, &opt->nets[opt->nr_nets], err, sizeof(err)) < 0)
				return usage_error("--net '%s': %s", optarg, err);
			opt->net_args[opt->nr_nets++] = optarg;
			break;
		case OPT_GPU:
			/* The value is optional, and may follow as its own word:
			 * "--gpu", "--gpu=2d" and "--gpu 2d,width=1920" all work. */
			if (!optarg && optind < argc && argv[optind][0] != '-')
				optarg = argv[optind++];
			if (virtio_gpu_option_parse(optarg ? optarg : "", &opt->gpu,
						    err, sizeof(err)) < 0)
				return usage_error("--gpu '%s': %s", optarg ? optarg : "", err);
			opt->gpu_given = true;
			break;
		case OPT_SPICE:
			if (spice_options_parse(optarg, &opt->spice, err, sizeof(err)) < 0)
				return usage_error("--spice '%s': %s", optarg, err);
			opt->spice_password_on_cmdline = opt->spice.password[0] != 0;
			if (spice_ticket_settle(&opt->spice, getenv("GVMM_SPICE_PASSWORD"), err,
						sizeof(err)) < 0)
				return usage_error("--spice '%s': %s", optarg, err);
			opt->spice_given = true;
			break;
		case OPT_VFIO:
			if (opt->nr_vfio == VFIO_MAX_DEVICES)
				return usage_error("--vfio: at most %d devices", VFIO_MAX_DEVICES);
			if (vfio_option_parse(optarg, &opt->vfio[opt->nr_vfio], err, sizeof(err)) < 0)
				return usage_error("--vfio '%s': %s", optarg, err);
			for (unsigned i = 0; i < opt->nr_vfio; i++)
				if (vfio_option_same(&opt->vfio[i], &opt->vfio[opt->nr_vfio]))
					return usage_error("--vfio '%s' is given twice", optarg);
			opt->nr_vfio++;
			break;
		case 'h':
			print_run_usage(stdout);
			return -1;
		case ':':
			return usage_error("option '%s' needs a value (try 'gvmm run --help')",
					   argv[optind - 1]);
		default:
			return usage_error("unknown option '%s' (try 'gvmm run --help')",
					   argv[optind - 1]);
		}
	}
	for (unsigned i = 0; i < opt->nr_nets && opt->nr_nets > 1; i++)
		if (opt->nets[i].kind == NET_NONE)
			return usage_error("--net none cannot be combined with other --net options");
	/* The password is in opt now; nothing gvmm starts needs to inherit it. */
	if (opt->spice_given)
		unsetenv("GVMM_SPICE_PASSWORD");
	/* A display needs something to show. */
	if (opt->spice_given && !opt->gpu_given) {
		if (virtio_gpu_option_parse("", &opt->gpu, err, sizeof(err)) < 0)
			return usage_error("--gpu defaults: %s", err);
		opt->gpu_given = true;
	}
	/* Networking that needs no privileges unless the user says otherwise. */
	if (opt->nr_nets == 0) {
		opt->nets[0].kind = NET_USER;
		opt->net_args[0] = "user";
		opt->nr_nets = 1;
	}
	if (opt->virtio_console && !opt->cmdline_given)
		opt->cmdline = VIRTIO_CMDLINE;
	if (optind < argc)
		return usage_error("unexpected argument '%s' (try 'gvmm run --help')", argv[optind]);
	if (!opt->kernel_path && opt->nr_disks == 0)
		return usage_error("give --kernel PATH, or a --disk with a distribution installed "
				   "on it (try 'gvmm run --help')");
	if (opt->kernel_path && opt->boot_disk_given)
		return usage_error("--boot-disk boots a disk's own kernel: leave out --kernel");
	if (!opt->kernel_path && opt->initrd_path)
		return usage_error("--initrd needs --kernel (a disk's own initrd comes with its "
				   "kernel)");
	if (opt->boot_disk >= opt->nr_disks && !opt->kernel_path)
		return usage_error("--boot-disk %u: there are %u --disk options, counted from 0",
				   opt->boot_disk, opt->nr_disks);
	if (opt->ram_size < MIN_MEMORY)
		return usage_error("--memory %llu MiB is too little: at least %llu MiB",
				   (unsigned long long)(opt->ram_size >> 20),
				   (unsigned long long)(MIN_MEMORY >> 20));
	if (opt->ram_size > host_ram_bytes())
		return usage_error("--memory %llu MiB is more than this host's %llu MiB",
				   (unsigned long long)(opt->ram_size >> 20),
				   (unsigned long long)(host_ram_bytes() >> 20));
	if (opt->ram_size % 4096)
		return usage_error("--memory must be a whole number of 4 KiB pages");
	return EXIT_SUCCESS;
}

static int map_input_file(const char *what, const char *path, struct mapped_file *out)
{
	struct stat st;
	void *data;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return usage_error("cannot read %s '%s': %s", what, path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return usage_error("%s '%s' is not a regular file", what, path);
	}
	if (st.st_size == 0) {
		close(fd);
		return usage_error("%s '%s' is empty", what, path);
	}
	data = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (data == MAP_FAILED) {
		int e = errno;

		close(fd);
		return usage_error("cannot map %s '%s': %s", what, path, strerror(e));
	}
	out->data = data;
	out->len = (size_t)st.st_size;
	out->fd = fd;
	return EXIT_SUCCESS;
}

static void unmap_input_file(struct mapped_file *f)
{
	if (f->data) {
		munmap((void *)f->data, f->len);
		close(f->fd);
	}
	f->data = NULL;
	f->fd = -1;
}

/* The descriptors of KERNEL and INITRD, for vm_config.boot_fds. */
static struct boot_file_fds boot_file_fds(const struct mapped_file *kernel,
					  const struct mapped_file *initrd)
{
	return (struct boot_file_fds){
		.kernel = kernel->data ? kernel->fd : -1,
		.initrd = initrd->data ? initrd->fd : -1,
	};
}

/* Without --kernel: what the distribution on the boot disk configured,
 * its command line followed by the console argument and --cmdline. */
static int find_disk_boot(const struct run_options *opt, struct boot_disk_choice *choice,
			  char *cmdline, size_t size)
{
	char err[1024];

	if (boot_disk_find(opt->disks[opt->boot_disk].path, opt->boot_disk, choice, err,
			   sizeof(err)) < 0)
		return usage_error("%s", err);
	if (boot_disk_cmdline(choice->cmdline,
			      opt->virtio_console ? VIRTIO_CMDLINE : DEFAULT_CMDLINE,
			      opt->cmdline_given ? opt->cmdline : NULL, cmdline, size) < 0) {
		boot_disk_choice_free(choice);
		return usage_error("the command line is longer than %zu bytes", size - 1);
	}
	log_info("booting %s", choice->summary);
	return EXIT_SUCCESS;
}

static void on_signal(void *opaque, uint32_t events)
{
	struct run_state *state = opaque;
	struct signalfd_siginfo info;

	(void)events;
	if (read(state->signal_fd, &info, sizeof(info)) != sizeof(info))
		return;
	/* Kept even when the VM is already stopping (say, for a guest reboot),
	 * so the signal still ends gvmm instead of being lost in a restart. */
	log_info("stopping on signal %u", info.ssi_signo);
	state->signal = (int)info.ssi_signo;
	if (state->vm) {
		state->vm->stop_signal = (int)info.ssi_signo;
		vm_stop(state->vm, VM_STOP_SIGNAL);
	}
}

static int api_pause(void *ctx)
{
	struct run_state *state = ctx;

	if (!state->vm)
		return -EAGAIN;
	vm_pause(state->vm);
	return 0;
}

static int api_resume(void *ctx)
{
	struct run_state *state = ctx;

	if (!state->vm)
		return -EAGAIN;
	vm_resume(state->vm);
	return 0;
}

static int api_powerdown(void *ctx)
{
	struct run_state *state = ctx;

	if (!state->vm)
		return -EAGAIN;
	acpi_pm_press_power_button(&state->vm->pm);
	return 0;
}

static int api_quit(void *ctx)
{
	struct run_state *state = ctx;

	if (state->vm)
		vm_stop(state->vm, VM_STOP_USER_QUIT);
	return 0;
}

static int api_vcpus(void *ctx, unsigned from, struct api_vcpus *out)
{
	struct run_state *state = ctx;

	if (!state->vm)
		return -EAGAIN;
	out->total = state->vm->nr_vcpus;
	return vm_read_vcpus(state->vm, from, out->vcpus, API_VCPUS_PER_RESPONSE, &out->nr);
}

/* The display's outputs as far as the GPU has used them. */
static void api_status_display(const struct display *display, struct api_status *out)
{
	struct display_output_stats stats;
	unsigned nr = display_nr_outputs_used(display);

	if (!display)
		return;
	out->display = true;
	out->viewers = display_has_viewers(display);
	for (unsigned i = 0; i < nr && out->nr_outputs < API_STATUS_MAX_OUTPUTS; i++) {
		if (!display_output_stats(display, i, &stats))
			break;
		out->outputs[out->nr_outputs++] = (struct api_output){
			.width = stats.width, .height = stats.height,
			.updates = stats.updates, .sent = stats.sent,
			.dmabuf_draws = stats.dmabuf_draws, .dmabuf_acks = stats.dmabuf_acks,
		};
	}
}

static void api_status(void *ctx, struct api_status *out)
{
	struct run_state *state = ctx;
	struct vm *vm = state->vm;

	if (!vm)
		return;
	out->state = vm->paused ? API_VM_PAUSED : API_VM_RUNNING;
	out->vcpus = vm->nr_vcpus;
	out->memory_bytes = vm->cfg->ram_size;
	for (unsigned slot = 0; vm->pci_ready && slot < PCI_MAX_SLOTS; slot++) {
		const struct pci_device *dev = vm->pci.slots[slot];
		struct api_device *d;

		if (!dev || out->nr_devices == API_STATUS_MAX_DEVICES)
			continue;
		d = &out->devices[out->nr_devices++];
		snprintf(d->name, sizeof(d->name), "%s", dev->name ? dev->name : "pci");
		snprintf(d->pci, sizeof(d->pci), "00:%02x.0", slot);
	}
	api_status_display(vm->cfg->display, out);
}

static void on_console_quit(void *opaque)
{
	struct run_state *state = opaque;

	if (state->vm)
		vm_stop(state->vm, VM_STOP_USER_QUIT);
}

/* Signals go to the event loop through a signalfd; the vCPU kick signal is
 * blocked everywhere but in vCPU threads. Threads inherit this mask. */
static int setup_signals(sigset_t *handled)
{
	sigset_t blocked;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(handled);
	sigaddset(handled, SIGINT);
	sigaddset(handled, SIGTERM);
	sigaddset(handled, SIGHUP);
	blocked = *handled;
	sigaddset(&blocked, VCPU_KICK_SIGNAL);
	if (pthread_sigmask(SIG_BLOCK, &blocked, NULL) != 0)
		return -1;
	if (vcpu_install_kick_handler() < 0)
		return -1;
	return signalfd(-1, handled, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* Every --vfio device exists, is bound to vfio-pci in a viable group,
 * and guest RAM can be pinned for it: else one line and exit status 2. */
static int check_vfio_devices(const struct run_options *opt, struct vfio_host_device *devs)
{
	char err[1024];

	if (!opt->nr_vfio)
		return EXIT_SUCCESS;
	for (unsigned i = 0; i < opt->nr_vfio; i++)
		if (vfio_host_find_device(&vfio_host_default_paths, &opt->vfio[i], &devs[i],
					  err, sizeof(err)) < 0)
			return usage_error("--vfio: %s", err);
	for (unsigned i = 0; i < opt->nr_vfio; i++)
		for (unsigned j = 0; j < i; j++)
			if (!strcmp(devs[i].path, devs[j].path))
				return usage_error("--vfio: %s is given twice", devs[i].name);
	if (vfio_host_check_own_memlock(opt->ram_size, err, sizeof(err)) < 0)
		return usage_error("--vfio: %s", err);
	return EXIT_SUCCESS;
}

/* The display's outputs: the GPU's, then one for each mediated device
 * (only opening one tells whether it has a display: the VM does that),
 * as many as the display can have. */
static unsigned display_outputs(const struct run_options *opt,
				const struct vfio_host_device *devs)
{
	unsigned n = opt->gpu.nr_outputs;

	for (unsigned i = 0; i < opt->nr_vfio; i++)
		n += devs[i].mdev;
	return n < DISPLAY_MAX_OUTPUTS ? n : DISPLAY_MAX_OUTPUTS;
}

/* The vCPUs are stopped; what the devices still write matters little to
 * a post-mortem of how the guest died. */
static void write_crash_dump(const struct vm *vm, const char *path)
{
	char err[512];

	log_info("writing the guest's RAM to %s", path);
	if (crash_dump_write(&vm->mem, path, err, sizeof(err)) < 0)
		log_error("--crash-dump: %s", err);
}

/* --kernel and --initrd, mapped and checked: at start, and again at each
 * reboot (the files as they are then). EXIT_SUCCESS, or the status of
 * the usage error it said. */
static int map_boot_files(const struct run_options *opt, struct mapped_file *kernel,
			  struct mapped_file *initrd)
{
	int status = map_input_file("kernel", opt->kernel_path, kernel);

	if (status != EXIT_SUCCESS)
		return status;
	if (!bzimage_detect(kernel->data, kernel->len) && !pvh_detect(kernel->data, kernel->len)) {
		unmap_input_file(kernel);
		return usage_error("'%s' is not a Linux kernel: no bzImage header and no "
				   "PVH ELF note", opt->kernel_path);
	}
	if (opt->initrd_path) {
		status = map_input_file("initrd", opt->initrd_path, initrd);
		if (status != EXIT_SUCCESS)
			unmap_input_file(kernel);
	}
	return status;
}

/* BOOT_FILES (kernel, initrd) are the --kernel and --initrd files, mapped
 * and open, or NULL when the boot disk gave them. Once a VM is made they
 * are in its RAM, so the mappings and descriptors go: their pages would
 * otherwise stay in gvmm's memory for the whole run (a 230 MiB initramfs,
 * all of it), and a file rewritten meanwhile would make a later access
 * fault. A reboot maps and opens the files again, as they are then. */
static int run_vm_until_done(struct kvm *kvm, struct vm_config *cfg,
			     const struct run_options *opt, struct event_loop *loop,
			     struct serial_console *console, struct run_state *state,
			     struct mapped_file *boot_files)
{
	struct vm vm;
	struct boot_file_fds fds;
	char err[256];

	for (;;) {
		enum vm_stop_reason reason;
		int stop_signal;
		int ret;

		if (boot_files && !boot_files[0].data) {
			if (map_boot_files(opt, &boot_files[0], &boot_files[1]) != EXIT_SUCCESS) {
				log_error("the guest rebooted, but its kernel or initrd cannot be read again");
				return EXIT_FAILURE_VM;
			}
			cfg->kernel = boot_files[0].data;
			cfg->kernel_len = boot_files[0].len;
			cfg->initrd = boot_files[1].data;
			cfg->initrd_len = boot_files[1].len;
		}
		if (boot_files) {
			fds = boot_file_fds(&boot_files[0], &boot_files[1]);
			cfg->boot_fds = &fds;
		}
		ret = vm_create(&vm, kvm, cfg, loop, console, err, sizeof(err));
		if (boot_files) {
			unmap_input_file(&boot_files[0]);
			unmap_input_file(&boot_files[1]);
			cfg->kernel = cfg->initrd = NULL;
			cfg->kernel_len = cfg->initrd_len = 0;
			cfg->boot_fds = NULL;
		}
		if (ret < 0) {
			log_error("%s", err);
			vm_destroy(&vm);
			return ret == VM_CREATE_BAD_INPUT ? EXIT_USAGE : EXIT_FAILURE_VM;
		}
		state->vm = &vm;
		reason = vm_run(&vm);
		stop_signal = vm.stop_signal;
		if (reason == VM_STOP_GUEST_ERROR && opt->crash_dump_path)
			write_crash_dump(&vm, opt->crash_dump_path);
		state->vm = NULL;
		vm_destroy(&vm);
		if (state->signal)
			return EXIT_SIGNAL_BASE + state->signal;

		switch (reason) {
		case VM_STOP_RESET:
			if (opt->no_reboot) {
				log_info("the guest rebooted; exiting (--no-reboot)");
				return EXIT_GUEST_REBOOT;
			}
			log_info("the guest rebooted; restarting it");
			continue;
		case VM_STOP_POWEROFF:
		case VM_STOP_USER_QUIT:
			return EXIT_GUEST_POWEROFF;
		case VM_STOP_SIGNAL:
			return EXIT_SIGNAL_BASE + stop_signal;
		case VM_STOP_GUEST_ERROR:
		case VM_STOP_VMM_ERROR:
		case VM_RUNNING:
		default:
			return EXIT_FAILURE_VM;
		}
	}
}

int cmd_run(int argc, char **argv)
{
	struct run_options opt;
	struct mapped_file boot_files[2] = { { .fd = -1 }, { .fd = -1 } };  /* kernel, initrd */
	struct mapped_file *kernel = &boot_files[0], *initrd = &boot_files[1];
	struct boot_disk_choice from_disk = { 0 };
	static char disk_cmdline[BOOT_ENTRY_OPTIONS_MAX + 1024];
	struct run_state state = { .signal_fd = -1 };
	struct api_socket api = { .listener.fd = -1, .spare_fd = -1 };
	const struct api_ops api_ops = {
		.pause = api_pause, .resume = api_resume, .powerdown = api_powerdown,
		.quit = api_quit, .status = api_status, .vcpus = api_vcpus, .ctx = &state,
	};
	struct serial_console console;
	struct event_loop loop;
	struct vm_config cfg;
	struct vm_nic nics[NET_MAX_NICS] = { 0 };
	struct display *display = NULL;
	static struct vfio_host_device vfio_devices[VFIO_MAX_DEVICES];
	int nr_nics = 0;
	struct kvm kvm;
	sigset_t handled;
	char err[256];
	/* A missing module's message names gvmm's folder twice. */
	char module_err[MODULE_ERROR_MAX], spice_version[32], slirp_version[32];
	int status;

	status = parse_run_options(argc, argv, &opt);
	if (status != EXIT_SUCCESS)
		return status < 0 ? EXIT_SUCCESS : status;
	/* The SPICE module loads now, so a broken install stops gvmm before
	 * it makes anything, not after the guest's devices are set up. */
	if (opt.spice_given &&
	    spice_display_available(spice_version, sizeof(spice_version), module_err,
				    sizeof(module_err)) < 0) {
		log_error("--spice: %s", module_err);
		return EXIT_FAILURE_VM;
	}
	/* The same for the user-networking module, which a --net user NIC
	 * (the default) loads. */
	for (unsigned i = 0; i < opt.nr_nets; i++) {
		if (opt.nets[i].kind == NET_USER &&
		    net_slirp_available(slirp_version, sizeof(slirp_version), module_err,
					sizeof(module_err)) < 0) {
			log_error("--net %s: %s", opt.net_args[i], module_err);
			return EXIT_FAILURE_VM;
		}
	}
	if (!opt.kernel_path) {
		status = find_disk_boot(&opt, &from_disk, disk_cmdline, sizeof(disk_cmdline));
		if (status != EXIT_SUCCESS)
			return status;
		/* Handed on exactly as --kernel and --initrd files are. */
		kernel->data = from_disk.kernel;
		kernel->len = from_disk.kernel_len;
		initrd->data = from_disk.initrd;
		initrd->len = from_disk.initrd_len;
		opt.cmdline = disk_cmdline;
		goto files_ready;
	}
	status = map_boot_files(&opt, kernel, initrd);
	if (status != EXIT_SUCCESS)
		return status;

files_ready:
	status = check_vfio_devices(&opt, vfio_devices);
	if (status != EXIT_SUCCESS)
		goto out_files;
	status = EXIT_FAILURE_VM;
	if (kvm_open(&kvm, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out_files;
	}
	if (opt.nr_cpus > (unsigned)kvm.max_vcpus) {
		status = usage_error("--cpus %u: this host's KVM allows at most %d",
				     opt.nr_cpus, kvm.max_vcpus);
		goto out_kvm;
	}
	nr_nics = nic_backends_open(opt.nets, opt.nr_nets, opt.nr_cpus, nics, opt.net_args,
				    err, sizeof(err));
	if (nr_nics < 0) {
		nr_nics = 0;
		status = usage_error("%s", err);
		goto out_kvm;
	}
	if (kvm.flavour == KVM_FLAVOUR_PVM)
		log_warn("/dev/kvm is PVM, a software hypervisor: stock Linux kernels do not "
			 "boot on it (see 'gvmm check')");
	if (opt.api_socket_path && api_socket_open(&api, opt.api_socket_path, err, sizeof(err)) < 0) {
		status = usage_error("%s", err);
		goto out_kvm;
	}
	if (serial_console_open(&console, &opt.serial, err, sizeof(err)) < 0) {
		status = usage_error("%s", err);
		goto out_api;
	}
	if (event_loop_init(&loop) < 0) {
		log_error("cannot create the event loop: %s", strerror(errno));
		goto out_console;
	}
	state.signal_fd = setup_signals(&handled);
	if (state.signal_fd < 0 ||
	    event_loop_add(&loop, state.signal_fd, EPOLLIN, on_signal, &state) < 0) {
		log_error("cannot set up signal handling: %s", strerror(errno));
		goto out_loop;
	}
	if (serial_console_start(&console, &loop, on_console_quit, &state) < 0) {
		log_error("cannot watch the console input");
		goto out_loop;
	}
	if (opt.api_socket_path && api_socket_start(&api, &loop, &api_ops) < 0) {
		log_error("cannot serve the control socket");
		goto out_loop;
	}
	if (opt.spice_given) {
		if (spice_display_create(&display, &opt.spice, &loop,
					 display_outputs(&opt, vfio_devices),
					 opt.gpu.width, opt.gpu.height, err, sizeof(err)) < 0) {
			status = usage_error("--spice: %s", err);
			goto out_loop;
		}
		if (spice_display_connect_file(display))
			log_info("SPICE display on %s: connect with 'remote-viewer %s' (the file "
				 "holds the password; it goes when gvmm ends)",
				 spice_display_uri(display), spice_display_connect_file(display));
		else
			log_info("SPICE display on %s: connect with 'remote-viewer %s'",
				 spice_display_uri(display), spice_display_uri(display));
		if (opt.spice_password_on_cmdline)
			log_warn("--spice password= can be read by every local user (ps, "
				 "/proc/PID/cmdline): use password-file=PATH or GVMM_SPICE_PASSWORD");
	}

	cfg = (struct vm_config){
		.kernel = kernel->data, .kernel_len = kernel->len,
		.initrd = initrd->data, .initrd_len = initrd->len,
		.cmdline = opt.cmdline, .ram_size = opt.ram_size,
		.nr_cpus = opt.nr_cpus,
		.ram_backing = opt.hugepages ? GUEST_RAM_HUGETLB :
			       opt.shared_memory ? GUEST_RAM_MEMFD : GUEST_RAM_ANONYMOUS,
		.disks = opt.disks, .nr_disks = opt.nr_disks, .rng = opt.rng,
		.virtio_console = opt.virtio_console,
		.nics = nics, .nr_nics = (unsigned)nr_nics,
		.gpu = opt.gpu_given ? &opt.gpu : NULL,
		.display = display,
		.vfio_devices = vfio_devices, .nr_vfio_devices = opt.nr_vfio,
		.vfio_first_output = opt.gpu.nr_outputs,
	};
	status = run_vm_until_done(&kvm, &cfg, &opt, &loop, &console, &state,
				   from_disk.kernel ? NULL : boot_files);
	if (display)
		spice_display_destroy(display);

out_loop:
	api_socket_close(&api);
	event_loop_destroy(&loop);
	if (state.signal_fd >= 0)
		close(state.signal_fd);
out_console:
	serial_console_close(&console);
out_api:
	api_socket_close(&api);
out_kvm:
	nic_backends_close(nics, (unsigned)nr_nics);
	kvm_close(&kvm);
out_files:
	if (from_disk.kernel) {
		boot_disk_choice_free(&from_disk);
	} else {
		unmap_input_file(initrd);
		unmap_input_file(kernel);
	}
	return status;
}
