/* cortex-m7 test board: QEMU mps2-an500. Instructions are counted with SysTick (cortex-m/systick.h). */
#ifndef EDGEMNIST_BOARD_H_
#define EDGEMNIST_BOARD_H_

#include "systick.h"

static inline void board_init(void) {}

#endif
