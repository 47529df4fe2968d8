/*
 * The DAHDI userspace ABI (include/dahdi/user.h of dahdi-linux), written for Linecard from the
 * documented facts in shared/reference/dahdi-spandsp-notes.md, section 1.
 *
 * Swift imports neither function-like macros (_IOW and friends) nor the variadic ioctl(2), so
 * request numbers are exported as constants computed by the C compiler, and every ioctl goes
 * through a small inline function with a typed argument. Struct names are our own so that this
 * header never clashes with the kernel's when both are present.
 */
#ifndef LINECARD_CDAHDI_H
#define LINECARD_CDAHDI_H

#include <stdint.h>
#include <sys/ioctl.h>

#define LC_DAHDI_CODE 0xDA

/* Device nodes. */
#define LC_DAHDI_CTL_PATH "/dev/dahdi/ctl"
#define LC_DAHDI_CHANNEL_PATH "/dev/dahdi/channel"
#define LC_DAHDI_PSEUDO_PATH "/dev/dahdi/pseudo"
#define LC_DAHDI_TIMER_PATH "/dev/dahdi/timer"
static const int DahdiMajor = 196;
static const int DahdiChunkSize = 8;
static const int DahdiDefaultBlockSize = 1024;
static const int DahdiMinBlockSize = 16;
static const int DahdiMaxBlockSize = 8192;
static const int DahdiMaxNumBufs = 32;
static const int DahdiMaxBufSpace = 32768;
static const int DahdiMaxSpans = 128;
static const int DahdiMaxChannels = 1024;
/* read()/write() fail with this errno while a signalling event is queued. */
static const int DahdiErrnoEventPending = 500; /* ELAST */

/* ---- Structs (x86_64 layout; int is 4 bytes) ---- */

typedef struct DahdiParams {
    int channo;      /* in: 0 = this fd; may be ORed with DahdiGetParamsReturnMaster */
    int spanno;
    int chanpos;
    int sigtype;
    int sigcap;
    int rxisoffhook;
    int rxbits;
    int txbits;
    int txhooksig;
    int rxhooksig;
    int curlaw;
    int idlebits;
    char name[40];
    int prewinktime;
    int preflashtime;
    int winktime;
    int flashtime;
    int starttime;
    int rxwinktime;
    int rxflashtime;
    int debouncetime;
    int pulsebreaktime;
    int pulsemaketime;
    int pulseaftertime;
    uint32_t chan_alarms;
} DahdiParams;

static const int DahdiGetParamsReturnMaster = 0x40000000;

typedef struct __attribute__((packed)) DahdiSpanInfo {
    int spanno;
    char name[20];
    char desc[40];
    int alarms;
    int txlevel;
    int rxlevel;
    int bpvcount;
    int crc4count;
    int ebitcount;
    int fascount;
    uint32_t fecount;
    uint32_t cvcount;
    uint32_t becount;
    uint32_t prbs;
    uint32_t errsec;
    int irqmisses;
    int syncsrc;
    int numchans;
    int totalchans;
    int totalspans;
    int lbo;
    int lineconfig;
    char lboname[40];
    char location[40];
    char manufacturer[40];
    char devicetype[40];
    int irq;
    int linecompat;
    char spantype[6];
} DahdiSpanInfo;

typedef struct DahdiBufferInfo {
    int txbufpolicy;
    int rxbufpolicy;
    int numbufs;
    int bufsize;
    int readbufs;
    int writebufs;
} DahdiBufferInfo;

typedef struct DahdiGains {
    int chan;
    unsigned char rxgain[256];
    unsigned char txgain[256];
} DahdiGains;

typedef struct DahdiDialOperation {
    int op;
    char dialstr[256];
} DahdiDialOperation;

typedef struct DahdiDialParams {
    int mfv1_tonelen;
    int dtmf_tonelen;
    int mfr2_tonelen;
    int reserved[3];
} DahdiDialParams;

typedef struct DahdiEchoCanParam {
    char name[16];
    int32_t value;
} DahdiEchoCanParam;

typedef struct DahdiEchoCanParams {
    uint32_t tap_length;
    uint32_t param_count;
    /* followed by param_count DahdiEchoCanParam */
} DahdiEchoCanParams;

typedef struct DahdiDynamicSpan {
    char driver[20];
    char addr[40];
    int numchans;
    int timing;
    int spanno;
} DahdiDynamicSpan;

typedef struct DahdiChanConfig {
    int chan;
    char name[40];
    int sigtype;
    int deflaw;
    int master;
    int idlebits;
    char netdev_name[16];
} DahdiChanConfig;

typedef struct DahdiRingCadence {
    int ringcadence[16];
} DahdiRingCadence;

typedef struct DahdiConfInfo {
    int chan;
    int confno;
    int confmode;
} DahdiConfInfo;

typedef struct DahdiLineConfig {
    int span;
    char name[20];
    int lbo;
    int lineconfig;
    int sync;
} DahdiLineConfig;

/* ---- ioctl request numbers ---- */
static const unsigned long DahdiGetBlockSize = _IOR(LC_DAHDI_CODE, 1, int);
static const unsigned long DahdiSetBlockSize = _IOW(LC_DAHDI_CODE, 1, int);
static const unsigned long DahdiFlush = _IOW(LC_DAHDI_CODE, 3, int);
static const unsigned long DahdiSync = _IO(LC_DAHDI_CODE, 4);
static const unsigned long DahdiGetParams = _IOWR(LC_DAHDI_CODE, 5, DahdiParams);
static const unsigned long DahdiSetParams = _IOW(LC_DAHDI_CODE, 5, DahdiParams);
static const unsigned long DahdiHook = _IOW(LC_DAHDI_CODE, 7, int);
static const unsigned long DahdiGetEvent = _IOR(LC_DAHDI_CODE, 8, int);
static const unsigned long DahdiIOMux = _IOWR(LC_DAHDI_CODE, 9, int);
static const unsigned long DahdiSpanStat = _IOWR(LC_DAHDI_CODE, 10, DahdiSpanInfo);
static const unsigned long DahdiGetGains = _IOWR(LC_DAHDI_CODE, 16, DahdiGains);
static const unsigned long DahdiSetGains = _IOW(LC_DAHDI_CODE, 16, DahdiGains);
static const unsigned long DahdiChanConfigRequest = _IOW(LC_DAHDI_CODE, 19, DahdiChanConfig);
static const unsigned long DahdiSendTone = _IOW(LC_DAHDI_CODE, 21, int);
static const unsigned long DahdiGetToneZone = _IOR(LC_DAHDI_CODE, 22, int);
static const unsigned long DahdiSetToneZone = _IOW(LC_DAHDI_CODE, 22, int);
static const unsigned long DahdiGetBufInfo = _IOR(LC_DAHDI_CODE, 27, DahdiBufferInfo);
static const unsigned long DahdiSetBufInfo = _IOW(LC_DAHDI_CODE, 27, DahdiBufferInfo);
static const unsigned long DahdiSetDialParams = _IOW(LC_DAHDI_CODE, 29, DahdiDialParams);
static const unsigned long DahdiDial = _IOW(LC_DAHDI_CODE, 31, DahdiDialOperation);
static const unsigned long DahdiAudioMode = _IOW(LC_DAHDI_CODE, 32, int);
static const unsigned long DahdiEchoCancel = _IOW(LC_DAHDI_CODE, 33, int);
static const unsigned long DahdiEchoCancelParams = _IOW(LC_DAHDI_CODE, 33, DahdiEchoCanParams);
static const unsigned long DahdiChanNo = _IOR(LC_DAHDI_CODE, 34, int);
static const unsigned long DahdiDialing = _IOR(LC_DAHDI_CODE, 35, int);
static const unsigned long DahdiSpecify = _IOW(LC_DAHDI_CODE, 38, int);
static const unsigned long DahdiSetLaw = _IOW(LC_DAHDI_CODE, 39, int);
static const unsigned long DahdiSetLinear = _IOW(LC_DAHDI_CODE, 40, int);
static const unsigned long DahdiSetCadence = _IOW(LC_DAHDI_CODE, 42, DahdiRingCadence);
static const unsigned long DahdiTimerConfig = _IOW(LC_DAHDI_CODE, 47, int);
static const unsigned long DahdiTimerAck = _IOW(LC_DAHDI_CODE, 48, int);
static const unsigned long DahdiDynamicCreate = _IOWR(LC_DAHDI_CODE, 80, DahdiDynamicSpan);
static const unsigned long DahdiDynamicDestroy = _IOW(LC_DAHDI_CODE, 81, DahdiDynamicSpan);
static const unsigned long DahdiToneDetect = _IOW(LC_DAHDI_CODE, 91, int);
static const unsigned long DahdiSetPolarity = _IOW(LC_DAHDI_CODE, 92, int);
static const unsigned long DahdiEchoCancelFaxMode = _IOW(LC_DAHDI_CODE, 102, int);
static const unsigned long DahdiBufferEvents = _IOW(LC_DAHDI_CODE, 105, int);

/* ---- Argument values ---- */
/* DAHDI_FLUSH masks */
static const int DahdiFlushRead = 1, DahdiFlushWrite = 2, DahdiFlushBoth = 3, DahdiFlushEvent = 4,
                 DahdiFlushAll = 7;
/* DAHDI_HOOK */
static const int DahdiHookOnHook = 0, DahdiHookOffHook = 1, DahdiHookWink = 2, DahdiHookFlash = 3,
                 DahdiHookStart = 4, DahdiHookRing = 5, DahdiHookRingOff = 6;
/* DAHDI_SETLAW */
static const int DahdiLawDefault = 0, DahdiLawMulaw = 1, DahdiLawAlaw = 2;
/* DAHDI_SET_BUFINFO policies */
static const int DahdiPolicyImmediate = 0, DahdiPolicyWhenFull = 1, DahdiPolicyHalfFull = 2;
/* DAHDI_DIAL ops */
static const int DahdiDialOpAppend = 1, DahdiDialOpReplace = 2, DahdiDialOpCancel = 3;
/* DAHDI_IOMUX */
static const int DahdiIOMuxRead = 1, DahdiIOMuxWrite = 2, DahdiIOMuxWriteEmpty = 4,
                 DahdiIOMuxSigEvent = 8, DahdiIOMuxNoWait = 0x100;
/* DAHDI_SENDTONE */
static const int DahdiToneStop = -1, DahdiToneDialTone = 0, DahdiToneBusy = 1, DahdiToneRingTone = 2,
                 DahdiToneCongestion = 3;
/* DAHDI_TONEDETECT */
static const int DahdiToneDetectOn = 1, DahdiToneDetectMute = 2;

/* Alarm bits (DahdiSpanInfo.alarms, DahdiParams.chan_alarms) */
static const int DahdiAlarmNone = 0, DahdiAlarmRecover = 1, DahdiAlarmLoopback = 2,
                 DahdiAlarmYellow = 4, DahdiAlarmRed = 8, DahdiAlarmBlue = 16, DahdiAlarmNotOpen = 32,
                 DahdiAlarmLOS = 1 << 8, DahdiAlarmLFA = 1 << 9, DahdiAlarmLMFA = 1 << 10;

/* Events returned by DAHDI_GETEVENT */
static const int DahdiEventNone = 0, DahdiEventOnHook = 1, DahdiEventRingOffHook = 2,
                 DahdiEventWinkFlash = 3, DahdiEventAlarm = 4, DahdiEventNoAlarm = 5,
                 DahdiEventAbort = 6, DahdiEventOverrun = 7, DahdiEventBadFCS = 8,
                 DahdiEventDialComplete = 9, DahdiEventRingerOn = 10, DahdiEventRingerOff = 11,
                 DahdiEventHookComplete = 12, DahdiEventBitsChanged = 13, DahdiEventPulseStart = 14,
                 DahdiEventTimerExpired = 15, DahdiEventTimerPing = 16, DahdiEventPolarity = 17,
                 DahdiEventRingBegin = 18, DahdiEventECDisabled = 19, DahdiEventRemoved = 20,
                 DahdiEventNeonMWIActive = 21, DahdiEventNeonMWIInactive = 22, DahdiEventTxCED = 23,
                 DahdiEventRxCED = 24, DahdiEventTxCNG = 25, DahdiEventRxCNG = 26,
                 DahdiEventECNLPDisabled = 27, DahdiEventECNLPEnabled = 28,
                 DahdiEventReadOverrun = 29, DahdiEventWriteUnderrun = 30;
static const int DahdiEventPulseDigit = 1 << 16, DahdiEventDTMFDown = 1 << 17,
                 DahdiEventDTMFUp = 1 << 18;

/* Signalling. An FXO module (facing the exchange) uses FXS signalling, an FXS port (facing a
 * phone) uses FXO signalling. */
static const int DahdiSigNone = 0;
static const int DahdiSigFXO = 0x1000, DahdiSigFXS = 0x2000;
static const int DahdiSigFXSLS = 0x2001, DahdiSigFXSGS = 0x2002, DahdiSigFXSKS = 0x2004;
static const int DahdiSigFXOLS = 0x1008, DahdiSigFXOGS = 0x1010, DahdiSigFXOKS = 0x1020;
static const int DahdiSigEM = 0x40, DahdiSigClear = 0x80, DahdiSigHDLCRaw = 0x180,
                 DahdiSigHDLCFCS = 0x380, DahdiSigHDLCNet = 0x780, DahdiSigSlave = 0x800,
                 DahdiSigSF = 0x4000, DahdiSigCAS = 0x8000, DahdiSigDACS = 0x10080,
                 DahdiSigEM_E1 = 0x20000, DahdiSigDACS_RBS = 0x50000, DahdiSigHardHDLC = 0x80080,
                 DahdiSigMTP2 = 0x100380;
static const unsigned int DahdiSigBroken = 1u << 31;

/* ---- ioctl wrappers: DAHDI passes every int argument by pointer ---- */
static inline int dahdi_ioctl_int(int fd, unsigned long request, int *value) {
    return ioctl(fd, request, value);
}
static inline int dahdi_ioctl_params(int fd, unsigned long request, DahdiParams *params) {
    return ioctl(fd, request, params);
}
static inline int dahdi_ioctl_spaninfo(int fd, DahdiSpanInfo *info) {
    return ioctl(fd, DahdiSpanStat, info);
}
static inline int dahdi_ioctl_bufinfo(int fd, unsigned long request, DahdiBufferInfo *info) {
    return ioctl(fd, request, info);
}
static inline int dahdi_ioctl_dynamic(int fd, unsigned long request, DahdiDynamicSpan *span) {
    return ioctl(fd, request, span);
}
static inline int dahdi_ioctl_dial(int fd, DahdiDialOperation *op) {
    return ioctl(fd, DahdiDial, op);
}
static inline int dahdi_ioctl_gains(int fd, unsigned long request, DahdiGains *gains) {
    return ioctl(fd, request, gains);
}

#endif
