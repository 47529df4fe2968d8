#ifndef LINECARD_CISDNBASELINE_H
#define LINECARD_CISDNBASELINE_H
#include <stdint.h>

/* The ISDN benchmark's baseline: two libpri controllers, the network and the user side, over
 * a SOCK_SEQPACKET socket pair in one plain C poll loop (the I/O callbacks drop and add the
 * 2 FCS bytes as Linecard's do). The user side keeps `channels` B-channels of an E1 busy:
 * SETUP; the network answers with CALL PROCEEDING, ALERTING (in-band) and CONNECT; the user
 * side clears with DISCONNECT, RELEASE, RELEASE COMPLETE; the channel's next call starts once
 * the clearing is complete. Returns the wall seconds `calls` calls took after the link came
 * up, or -1 on failure. */
double linecard_baseline_isdn(int channels, int calls);

#endif
