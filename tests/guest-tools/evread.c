/* Prints what evdev input devices report, for the display test
 * (tests/guest/display.sh): the host sends keys and pointer positions
 * through a SPICE client and judges them by what the guest saw here.
 * Built static by tools/mkguest.
 *
 *   evread [-t SECONDS] [-u TYPE:CODE:VALUE] LABEL=DEVICE...
 *
 * DEVICE is a path (/dev/input/eventN) or a device name as in
 * /sys/class/input/eventN/device/name ("gvmm keyboard"). Once every device
 * is open, "EVREAD-READY" is printed; then one line per event, SYN_REPORT
 * included, in the order they arrive:
 *
 *   EVENT LABEL TYPE CODE VALUE        (decimal, as in linux/input.h)
 *
 * It ends after the event -u names (printed first; e.g. 1:28:0 is the
 * release of KEY_ENTER), or after SECONDS (default 60), with
 * "EVREAD-END reason=until|timeout events=N". Exit status 0, or 1 when -u
 * was given and the time ran out first, 2 for bad usage or devices. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/input.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_DEVICES 8

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The /dev/input/eventN whose device is called name, or NULL. */
static const char *find_by_name(const char *name)
{
	static char path[300];
	DIR *d = opendir("/sys/class/input");
	struct dirent *e;
	const char *found = NULL;

	if (!d)
		return NULL;
	while (!found && (e = readdir(d))) {
		char file[320], buf[256];
		FILE *f;

		if (strncmp(e->d_name, "event", 5))
			continue;
		snprintf(file, sizeof(file), "/sys/class/input/%s/device/name", e->d_name);
		f = fopen(file, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f)) {
			buf[strcspn(buf, "\n")] = 0;
			if (!strcmp(buf, name)) {
				snprintf(path, sizeof(path), "/dev/input/%s", e->d_name);
				found = path;
			}
		}
		fclose(f);
	}
	closedir(d);
	return found;
}

int main(int argc, char **argv)
{
	struct pollfd fds[MAX_DEVICES];
	const char *labels[MAX_DEVICES];
	int until_type = -1, until_code = -1, until_value = -1, n = 0, opt;
	double seconds = 60, deadline;
	unsigned long events = 0;

	while ((opt = getopt(argc, argv, "t:u:")) != -1) {
		switch (opt) {
		case 't': seconds = atof(optarg); break;
		case 'u':
			if (sscanf(optarg, "%i:%i:%i", &until_type, &until_code, &until_value) != 3)
				goto usage;
			break;
		default: goto usage;
		}
	}
	if (optind >= argc || argc - optind > MAX_DEVICES)
		goto usage;

	for (int i = optind; i < argc; i++, n++) {
		char *eq = strchr(argv[i], '=');
		const char *dev;

		if (!eq)
			goto usage;
		*eq = 0;
		labels[n] = argv[i];
		dev = eq[1] == '/' ? eq + 1 : find_by_name(eq + 1);
		if (!dev) {
			fprintf(stderr, "evread: no input device named '%s'\n", eq + 1);
			return 2;
		}
		fds[n].fd = open(dev, O_RDONLY | O_NONBLOCK);
		fds[n].events = POLLIN;
		if (fds[n].fd < 0) {
			fprintf(stderr, "evread: %s: %s\n", dev, strerror(errno));
			return 2;
		}
	}
	printf("EVREAD-READY\n");
	fflush(stdout);

	deadline = now_s() + seconds;
	for (;;) {
		double left = deadline - now_s();

		if (left <= 0 || poll(fds, n, (int)(left * 1000) + 1) < 0) {
			if (left > 0 && errno == EINTR)
				continue;
			printf("EVREAD-END reason=timeout events=%lu\n", events);
			fflush(stdout);
			return until_type >= 0 ? 1 : 0;
		}
		for (int i = 0; i < n; i++) {
			struct input_event ev;

			if (!(fds[i].revents & POLLIN))
				continue;
			while (read(fds[i].fd, &ev, sizeof(ev)) == (ssize_t)sizeof(ev)) {
				events++;
				printf("EVENT %s %u %u %d\n", labels[i], ev.type, ev.code, ev.value);
				fflush(stdout);
				if (ev.type == until_type && ev.code == until_code &&
				    ev.value == until_value) {
					printf("EVREAD-END reason=until events=%lu\n", events);
					fflush(stdout);
					return 0;
				}
			}
		}
	}

usage:
	fprintf(stderr, "usage: evread [-t SECONDS] [-u TYPE:CODE:VALUE] LABEL=DEVICE...\n");
	return 2;
}
