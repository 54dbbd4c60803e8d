/* How a device asks the VM to stop or restart: the ACPI PM block on an S5
 * write or a reset-register write, the i8042 on its reset pulse. The VM
 * supplies the callback; it is safe to call from any thread. */
#ifndef GVMM_VM_REQUEST_H
#define GVMM_VM_REQUEST_H

enum vm_request {
	VM_REQUEST_POWEROFF,  /* the guest turned itself off */
	VM_REQUEST_RESET,     /* the guest asked for a reboot */
};

struct vm_requester {
	void (*request)(void *ctx, enum vm_request what);
	void *ctx;
};

static inline void vm_request(const struct vm_requester *r, enum vm_request what)
{
	if (r->request)
		r->request(r->ctx, what);
}

#endif
