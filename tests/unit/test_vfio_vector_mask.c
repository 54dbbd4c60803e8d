/* Per-vector masking of passed-through interrupts, MSI and MSI-X alike,
 * against a fake KVM and VFIO (fake_vfio_irq.h): a masked vector's
 * interrupts never reach the guest, one signalled while masked is
 * pending, and it is delivered once when the vector is unmasked. */
#include "check.h"

#include <linux/vfio.h>

#include "fake_vfio_irq.h"
#include "../../devices/vfio/vfio_irq.h"
#include "../../devices/vfio/vfio_msix.h"

#define MSG_ADDR   0xfee00000ull
#define MSG_DATA   0x4040u     /* low bits left for 4 MSI vectors */
#define MSI        VFIO_PCI_MSI_IRQ_INDEX
#define MSIX       VFIO_PCI_MSIX_IRQ_INDEX

static struct fake_irq fake;
static struct vfio_irq_router router;
static struct vfio_irq_device device;

static void fakes_init(void)
{
	fake_irq_init(&fake);
	router = fake_irq_router(&fake);
	device = fake_irq_device(&fake);
}

/* ---- MSI ---- */

static struct vfio_msi msi;

/* Fresh fakes and MSI, enabled with 4 vectors and mask. */
static int msi_start(uint32_t mask)
{
	fakes_init();
	vfio_msi_init(&msi);
	return vfio_msi_update(&msi, &router, &device, true, 4, MSG_ADDR, MSG_DATA, mask);
}

static int msi_update(bool enabled, uint64_t address, uint32_t mask)
{
	return vfio_msi_update(&msi, &router, &device, enabled, 4, address, MSG_DATA, mask);
}

static void test_msi_masked_vector_waits_then_is_delivered(void)
{
	unsigned triggers;

	CHECK_EQ(msi_start(1u << 1), 0);
	CHECK_EQ(fake.nr_vectors[MSI], 4);
	CHECK(fake_irq_bound(&fake, MSI, 0));
	CHECK(!fake_irq_bound(&fake, MSI, 1));
	CHECK(fake_irq_bound(&fake, MSI, 2) && fake_irq_bound(&fake, MSI, 3));
	triggers = fake.triggers;

	/* The masked vector is held back and pending; the others go through. */
	CHECK(fake_irq_signal(&fake, MSI, 1));
	CHECK(fake_irq_signal(&fake, MSI, 0));
	CHECK_EQ(fake_irq_delivered(&fake, MSG_ADDR, MSG_DATA | 1), 0);
	CHECK_EQ(fake_irq_delivered(&fake, MSG_ADDR, MSG_DATA), 1);
	CHECK_EQ(vfio_msi_pending(&msi), 1u << 1);
	/* More while masked: still one pending bit. */
	CHECK(fake_irq_signal(&fake, MSI, 1));
	CHECK_EQ(vfio_msi_pending(&msi), 1u << 1);

	/* Unmasked: delivered once, no longer pending, and then as usual. */
	CHECK_EQ(msi_update(true, MSG_ADDR, 0), 0);
	CHECK_EQ(fake_irq_delivered(&fake, MSG_ADDR, MSG_DATA | 1), 1);
	CHECK_EQ(vfio_msi_pending(&msi), 0);
	CHECK(fake_irq_signal(&fake, MSI, 1));
	CHECK_EQ(fake_irq_delivered(&fake, MSG_ADDR, MSG_DATA | 1), 2);
	/* Masking is ours alone: VFIO was never set up again for it. */
	CHECK_EQ(fake.triggers, triggers);
	vfio_msi_destroy(&msi, &router);
}

static void test_msi_all_masked_at_enable(void)
{
	CHECK_EQ(msi_start(0xffffffff), 0);
	for (unsigned i = 0; i < 4; i++)
		CHECK(!fake_irq_bound(&fake, MSI, i));
	CHECK(fake_irq_signal(&fake, MSI, 3));
	CHECK_EQ(vfio_msi_pending(&msi), 1u << 3);
	/* The message moved while masked: delivered where it points now. */
	CHECK_EQ(msi_update(true, MSG_ADDR + 0x1000, 0), 0);
	CHECK_EQ(fake_irq_delivered(&fake, MSG_ADDR + 0x1000, MSG_DATA | 3), 1);
	CHECK_EQ(fake_irq_delivered(&fake, MSG_ADDR, MSG_DATA | 3), 0);
	vfio_msi_destroy(&msi, &router);
}

static void test_msi_disabled_has_nothing_pending(void)
{
	CHECK_EQ(msi_start(1), 0);
	CHECK(fake_irq_signal(&fake, MSI, 0));
	CHECK_EQ(vfio_msi_pending(&msi), 1);
	CHECK_EQ(msi_update(false, MSG_ADDR, 1), 0);
	CHECK_EQ(fake.nr_vectors[MSI], 0);
	CHECK_EQ(vfio_msi_pending(&msi), 0);
	CHECK_EQ(fake_irq_delivered(&fake, MSG_ADDR, MSG_DATA), 0);
	vfio_msi_destroy(&msi, &router);
}

/* ---- MSI-X: the same rules through the table ---- */

#define ENTRY_ADDR_LO   0
#define ENTRY_ADDR_HI   4
#define ENTRY_DATA      8
#define ENTRY_CONTROL   12

static void table_write(struct vfio_msix *m, unsigned vector, unsigned field, uint32_t value)
{
	uint8_t data[4];

	for (unsigned i = 0; i < 4; i++)
		data[i] = (uint8_t)(value >> (8 * i));
	vfio_msix_table_access(m, vector * VFIO_MSIX_ENTRY_SIZE + field, data, 4, true);
}

static uint8_t pba(struct vfio_msix *m)
{
	uint8_t bits[8] = { 0 };

	vfio_msix_pba_access(m, 0, bits, 8, false);
	return bits[0];
}

static void test_msix_entry_mask(void)
{
	struct vfio_msix m;

	fakes_init();
	CHECK_EQ(vfio_msix_init(&m, 4, &router, &device), 0);
	CHECK_EQ(vfio_msix_set_control(&m, true, false), 0);
	table_write(&m, 0, ENTRY_ADDR_LO, (uint32_t)MSG_ADDR);
	table_write(&m, 0, ENTRY_ADDR_HI, 0);
	table_write(&m, 0, ENTRY_DATA, 0x51);
	table_write(&m, 0, ENTRY_CONTROL, 0);
	CHECK(fake_irq_bound(&fake, MSIX, 0));
	CHECK(fake_irq_signal(&fake, MSIX, 0));
	CHECK_EQ(fake_irq_delivered(&fake, MSG_ADDR, 0x51), 1);
	CHECK_EQ(pba(&m), 0);

	/* Masked entry: held back, pending in the PBA, delivered at unmask. */
	table_write(&m, 0, ENTRY_CONTROL, 1);
	CHECK(!fake_irq_bound(&fake, MSIX, 0));
	CHECK(fake_irq_signal(&fake, MSIX, 0));
	CHECK_EQ(fake_irq_delivered(&fake, MSG_ADDR, 0x51), 1);
	CHECK_EQ(pba(&m), 1);
	table_write(&m, 0, ENTRY_CONTROL, 0);
	CHECK_EQ(fake_irq_delivered(&fake, MSG_ADDR, 0x51), 2);
	CHECK_EQ(pba(&m), 0);

	/* The function mask holds back every vector the same way. */
	CHECK_EQ(vfio_msix_set_control(&m, true, true), 0);
	CHECK(fake_irq_signal(&fake, MSIX, 0));
	CHECK_EQ(pba(&m), 1);
	CHECK_EQ(fake_irq_delivered(&fake, MSG_ADDR, 0x51), 2);
	CHECK_EQ(vfio_msix_set_control(&m, true, false), 0);
	CHECK_EQ(fake_irq_delivered(&fake, MSG_ADDR, 0x51), 3);
	CHECK_EQ(pba(&m), 0);
	vfio_msix_destroy(&m);
}

TEST_MAIN("vfio_vector_mask",
	  TEST_CASE(test_msi_masked_vector_waits_then_is_delivered),
	  TEST_CASE(test_msi_all_masked_at_enable),
	  TEST_CASE(test_msi_disabled_has_nothing_pending),
	  TEST_CASE(test_msix_entry_mask))
