// The backend contract and the SPSC primitives are the engine's vocabulary: a program that
// imports the engine gets them too, as NIOPosix does NIOCore.
@_exported import LinecardCore
