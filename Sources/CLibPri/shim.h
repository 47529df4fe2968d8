// libpri (Debian libpri-dev): Q.921/Q.931 for ISDN PRI and BRI. GPL-2.0: only the
// LinecardISDN library links it. No pkg-config file exists; the module map names the library.
#include <sys/time.h>
#include <libpri.h>
// The session thread's wake-up, which Glibc's Swift module does not export.
#include <sys/eventfd.h>
