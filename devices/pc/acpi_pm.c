#include "acpi_pm.h"

#include <string.h>

#include "../../vmm/log.h"

/* PM1_STS and PM1_EN share bit positions. */
#define PM1_GBL              0x0020
#define PM1_PWRBTN           0x0100
#define PM1_SLPBTN           0x0200
#define PM1_RTC              0x0400
#define PM1_EN_PCIEXP_WAKE_DIS 0x4000
#define PM1_EN_WRITABLE      (PM1_GBL | PM1_PWRBTN | PM1_SLPBTN | PM1_RTC | \
			      PM1_EN_PCIEXP_WAKE_DIS)
/* Events whose status and enable bits together raise the SCI. */
#define PM1_SCI_EVENTS       (PM1_GBL | PM1_PWRBTN | PM1_SLPBTN | PM1_RTC)

#define PM1_CNT_SCI_EN       0x0001
#define PM1_CNT_BM_RLD       0x0002
#define PM1_CNT_SLP_TYP_SHIFT 10
#define PM1_CNT_SLP_TYP      0x1c00
#define PM1_CNT_SLP_EN       0x2000
/* What reads back; SLP_EN and GBL_RLS are write-only. */
#define PM1_CNT_STORED       (PM1_CNT_BM_RLD | PM1_CNT_SLP_TYP)

/* What a write asks of the VM once the lock is dropped. */
struct pm_actions {
	bool poweroff;
	bool reset;
};

static void update_sci(struct acpi_pm *pm)
{
	bool level = pm->status & pm->enable & PM1_SCI_EVENTS;

	if (level != pm->sci_level) {
		pm->sci_level = level;
		irq_line_set(&pm->sci, level);
	}
}

static uint8_t byte_of(uint32_t value, unsigned byte)
{
	return (uint8_t)(value >> (8 * byte));
}

static uint8_t read_byte(const struct acpi_pm *pm, unsigned offset)
{
	switch (offset) {
	case ACPI_PM_PM1_STS:
	case ACPI_PM_PM1_STS + 1:
		return byte_of(pm->status, offset - ACPI_PM_PM1_STS);
	case ACPI_PM_PM1_EN:
	case ACPI_PM_PM1_EN + 1:
		return byte_of(pm->enable, offset - ACPI_PM_PM1_EN);
	case ACPI_PM_PM1_CNT:
	case ACPI_PM_PM1_CNT + 1:
		return byte_of(pm->control | PM1_CNT_SCI_EN, offset - ACPI_PM_PM1_CNT);
	}
	/* RESET_REG is write-only; the rest of the block is reserved. */
	return 0;
}

static void write_control_byte(struct acpi_pm *pm, unsigned byte, uint8_t value,
			       struct pm_actions *actions)
{
	uint16_t written = (uint16_t)(value << (8 * byte));
	uint16_t mask = (uint16_t)(0xff << (8 * byte));
	unsigned slp_typ;

	pm->control = (pm->control & ~mask) | (written & PM1_CNT_STORED);
	if (!(written & PM1_CNT_SLP_EN))
		return;
	/* SLP_TYP and SLP_EN share the high byte, so a byte write carries
	 * both as consistently as a word write. */
	slp_typ = (pm->control & PM1_CNT_SLP_TYP) >> PM1_CNT_SLP_TYP_SHIFT;
	if (slp_typ == ACPI_PM_SLP_TYP_S5)
		actions->poweroff = true;
	else
		log_debug("acpi-pm: sleep type %u not offered, ignored", slp_typ);
}

static void write_byte(struct acpi_pm *pm, unsigned offset, uint8_t value,
		       struct pm_actions *actions)
{
	unsigned byte;

	switch (offset) {
	case ACPI_PM_PM1_STS:
	case ACPI_PM_PM1_STS + 1:
		byte = offset - ACPI_PM_PM1_STS;
		pm->status &= (uint16_t)~(value << (8 * byte));
		break;
	case ACPI_PM_PM1_EN:
	case ACPI_PM_PM1_EN + 1:
		byte = offset - ACPI_PM_PM1_EN;
		pm->enable &= (uint16_t)~(0xff << (8 * byte));
		pm->enable |= (uint16_t)(value << (8 * byte)) & PM1_EN_WRITABLE;
		break;
	case ACPI_PM_PM1_CNT:
	case ACPI_PM_PM1_CNT + 1:
		write_control_byte(pm, offset - ACPI_PM_PM1_CNT, value, actions);
		break;
	case ACPI_PM_RESET_REG:
		if (value == ACPI_PM_RESET_VALUE)
			actions->reset = true;
		break;
	default:
		/* Reserved. */
		break;
	}
}

void acpi_pm_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		    bool is_write)
{
	struct acpi_pm *pm = opaque;
	struct pm_actions actions = { false, false };

	pthread_mutex_lock(&pm->lock);
	for (uint32_t i = 0; i < len; i++) {
		uint64_t port = offset + i;

		if (port >= ACPI_PM_PORTS) {
			if (!is_write)
				data[i] = 0xff;
			continue;
		}
		if (is_write)
			write_byte(pm, (unsigned)port, data[i], &actions);
		else
			data[i] = read_byte(pm, (unsigned)port);
	}
	update_sci(pm);
	pthread_mutex_unlock(&pm->lock);

	if (actions.poweroff) {
		log_debug("acpi-pm: guest entered S5");
		vm_request(&pm->requester, VM_REQUEST_POWEROFF);
	}
	if (actions.reset) {
		log_debug("acpi-pm: guest wrote the reset register");
		vm_request(&pm->requester, VM_REQUEST_RESET);
	}
}

void acpi_pm_press_power_button(struct acpi_pm *pm)
{
	pthread_mutex_lock(&pm->lock);
	pm->status |= PM1_PWRBTN;
	update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
}

void acpi_pm_init(struct acpi_pm *pm, const struct irq_line *sci,
		  const struct vm_requester *requester)
{
	memset(pm, 0, sizeof(*pm));
	pthread_mutex_init(&pm->lock, NULL);
	if (sci)
		pm->sci = *sci;
	if (requester)
		pm->requester = *requester;
}

void acpi_pm_destroy(struct acpi_pm *pm)
{
	pthread_mutex_destroy(&pm->lock);
}
