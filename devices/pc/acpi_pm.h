/* The ACPI fixed-hardware power-management block, 16 ports at
 * PORT_ACPI_PM_BASE, laid out as the FADT describes it:
 *
 *   +0x0  PM1a_STS   16 bits, write 1 to clear
 *   +0x2  PM1a_EN    16 bits
 *   +0x4  PM1a_CNT   16 bits: SCI_EN always reads 1 (there is no legacy
 *                    mode to leave); SLP_EN with SLP_TYP S5 powers off
 *   +0x8  reserved   no PM timer: the FADT offers none (acpi.c says why)
 *   +0xc  RESET_REG  8 bits: writing ACPI_PM_RESET_VALUE resets
 *
 * Accesses of any width inside a register work. The SCI is a level: high
 * while an enabled event's status bit is set. Only the power button
 * produces events; sleep states other than S5 are not offered.
 *
 * Locking: one mutex per block; requests to the VM are made without it. */
#ifndef GVMM_ACPI_PM_H
#define GVMM_ACPI_PM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../firmware/acpi.h"
#include "../../vmm/irq_line.h"
#include "../../vmm/vm_request.h"

#define ACPI_PM_PORTS        ACPI_PM_BLOCK_LEN

/* Register offsets within the block. */
#define ACPI_PM_PM1_STS      ACPI_PM1_EVT_OFFSET
#define ACPI_PM_PM1_EN       (ACPI_PM1_EVT_OFFSET + 2)
#define ACPI_PM_PM1_CNT      ACPI_PM1_CNT_OFFSET
#define ACPI_PM_RESET_REG    ACPI_RESET_REG_OFFSET

#define ACPI_PM_SLP_TYP_S5   ACPI_SLP_TYP_S5   /* the value \_S5 hands the OS */
#define ACPI_PM_RESET_VALUE  ACPI_RESET_VALUE   /* the FADT's RESET_VALUE */

struct acpi_pm {
	pthread_mutex_t lock;
	struct irq_line sci;
	struct vm_requester requester;
	uint16_t status;           /* PM1_STS */
	uint16_t enable;           /* PM1_EN */
	uint16_t control;          /* PM1_CNT without its write-only and fixed bits */
	bool sci_level;            /* the level last driven on the SCI */
};

/* sci and requester are copied. */
void acpi_pm_init(struct acpi_pm *pm, const struct irq_line *sci,
		  const struct vm_requester *requester);
void acpi_pm_destroy(struct acpi_pm *pm);

/* bus_access_fn for the ACPI_PM_PORTS ports. */
void acpi_pm_access(void *pm, uint64_t offset, uint8_t *data, uint32_t len,
		    bool is_write);

/* A press of the power button: sets PWRBTN_STS, raising the SCI if the OS
 * enabled the event. Safe from any thread. */
void acpi_pm_press_power_button(struct acpi_pm *pm);

#endif
