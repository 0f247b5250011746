/* Semihosting for the edgemnist test firmware: open/read/write/close files on the host and exit. The trap is the
 * architecture's: bkpt 0xAB on Arm (M profile), the slli/ebreak/srai sequence on RISC-V; the operations and
 * their argument blocks are the same. */
#ifndef EDGEMNIST_SEMIHOST_H_
#define EDGEMNIST_SEMIHOST_H_

#include <stddef.h>
#include <stdint.h>

#if defined(__riscv)
static inline int32_t semihost_call(int32_t op, const void *arg) {
  register int32_t a0 __asm__("a0") = op;
  register const void *a1 __asm__("a1") = arg;
  /* The three instructions must be uncompressed and must not cross a page: QEMU recognises them as a group. */
  __asm__ volatile(
      ".option push\n  .option norvc\n  .balign 16\n"
      "  slli x0, x0, 0x1f\n  ebreak\n  srai x0, x0, 7\n"
      ".option pop"
      : "+r"(a0)
      : "r"(a1)
      : "memory");
  return a0;
}
#else
static inline int32_t semihost_call(int32_t op, const void *arg) {
  register int32_t r0 __asm__("r0") = op;
  register const void *r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}
#endif

static inline int32_t semihost_open(const char *name, size_t len, int32_t mode) {
  const uint32_t args[3] = {(uint32_t)(uintptr_t)name, (uint32_t)mode, (uint32_t)len};
  return semihost_call(0x01, args);
}

/* Returns the number of bytes NOT read (0 = all read). */
static inline int32_t semihost_read(int32_t fd, void *buf, size_t len) {
  const uint32_t args[3] = {(uint32_t)fd, (uint32_t)(uintptr_t)buf, (uint32_t)len};
  return semihost_call(0x06, args);
}

/* Returns the number of bytes NOT written (0 = all written). */
static inline int32_t semihost_write(int32_t fd, const void *buf, size_t len) {
  const uint32_t args[3] = {(uint32_t)fd, (uint32_t)(uintptr_t)buf, (uint32_t)len};
  return semihost_call(0x05, args);
}

static inline void semihost_close(int32_t fd) {
  const uint32_t args[1] = {(uint32_t)fd};
  (void)semihost_call(0x02, args);
}

static inline void semihost_write0(const char *text) { (void)semihost_call(0x04, text); }

__attribute__((noreturn)) static inline void semihost_exit(int code) {
  /* SYS_EXIT_EXTENDED: {ADP_Stopped_ApplicationExit, code}. */
  const uint32_t args[2] = {0x20026u, (uint32_t)code};
  (void)semihost_call(0x20, args);
  for (;;) {
  }
}

#endif
