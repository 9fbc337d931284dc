/*
 * qmp.h - the one question xengpu asks an HVM guest's device model
 * itself: which slots of its PCI bus are taken.
 *
 * libxl 4.17 can put the functions of a card into one virtual slot only
 * when it is told which slot (see domains.c); nothing in libxl says
 * which slots QEMU's emulated devices hold.  QEMU answers `query-pci` on
 * the QMP socket libxl opened for it, /var/run/xen/qmp-libxl-DOMID, which
 * libxl itself connects to only for the length of each of its own
 * requests.  The device model may be in a guest's hands: the answer is
 * read with a size limit and a deadline and parsed strictly.
 */
#ifndef XENGPU_QMP_H
#define XENGPU_QMP_H

#include <stddef.h>
#include <stdint.h>
#include <xentoollog.h>

#define XENGPU_QMP_DIR "/var/run/xen"
#define XENGPU_QMP_MAX_REPLY (256u * 1024)

/* Where libxl's QMP sockets are: XENGPU_QMP_DIR (unit tests set theirs). */
extern const char *xengpu__qmp_dir;

/*
 * Parse QEMU's reply to query-pci (one JSON object, {"return": [...]}).
 * *used_r: bit N set when slot N of bus 0 holds a device, any function.
 * Returns 0, or -EINVAL for anything else (an error reply included).
 */
int xengpu__qmp_parse_slots(const char *reply, size_t len, uint32_t *used_r);

/*
 * Ask DOMID's device model which slots of its bus 0 are taken, waiting
 * at most TIMEOUT_MS in all.  DIR: NULL for xengpu__qmp_dir.  Returns 0, or a negative errno logged through LG at LEVEL
 * (-ENOENT: no such socket, e.g. a device model in a stub domain).
 */
int xengpu__qmp_used_slots(xentoollog_logger *lg, xentoollog_level level,
                           const char *dir, uint32_t domid, int timeout_ms,
                           uint32_t *used_r);

#endif /* XENGPU_QMP_H */
