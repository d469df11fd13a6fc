import CFuzzDriver

#if canImport(Glibc)
    import Glibc
#endif

// The entry point: hand the command line (libFuzzer's flags, corpus directories) to libFuzzer.
var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
// A closure, not `fuzz` itself: naming the @_cdecl function here would emit its C symbol twice.
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzz(data, size) })
