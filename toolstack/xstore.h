/*
 * xstore.h - the xengpu command's use of xenstore beyond the request
 * record: checking the live store against the schema, and asking a
 * guest's agent to let go of a card or telling it one came back.
 */
#ifndef XENGPU_XSTORE_H
#define XENGPU_XSTORE_H

#include <stdbool.h>
#include <stdio.h>
#include <xentoollog.h>

/*
 * Validate the live store (DOMID >= 0: only that domain's nodes) and
 * print the result to OUT: one "PATH: problem" line each and a summary,
 * or one JSON object.  Returns the number of problems, or -errno when
 * xenstore could not be opened or read (logged).
 */
int xengpu_xstore_check(FILE *out, bool json, long domid,
                        xentoollog_logger *lg);

/*
 * Before an unplug: ask DOMID's agent, if it runs one, to release CARD
 * (a name for messages) and wait up to TIMEOUT_S seconds.  Returns 0
 * when the card may go (released, no agent, no answer in time: the last
 * logged), -EBUSY when the guest refused (logged with its reason) and
 * FORCE is false.
 */
int xengpu_guest_release(unsigned domid, const char *card, int timeout_s,
                         bool force, xentoollog_logger *lg);

/*
 * After a plug: tell DOMID's agent CARD is there and wait up to
 * TIMEOUT_S for it to take the card.  Never fails the plug: a refusal
 * or silence is logged as a warning.  Returns 0.
 */
int xengpu_guest_plugged(unsigned domid, const char *card, int timeout_s,
                         xentoollog_logger *lg);

#endif /* XENGPU_XSTORE_H */
