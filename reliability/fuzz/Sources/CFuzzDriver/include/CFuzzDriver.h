#ifndef C_FUZZ_DRIVER_H
#define C_FUZZ_DRIVER_H

#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver (compiler-rt, linked in by `-sanitize=fuzzer`): parses libFuzzer's flags
/// from the command line and runs `callback` on every input. Each target's `main.swift` calls it,
/// because SwiftPM links an executable target with `--defsym main=<Target>_main`, so libFuzzer's
/// own `main` cannot be the entry point.
int LLVMFuzzerRunDriver(int *_Nonnull argc, char *_Nullable *_Nullable *_Nonnull argv,
                        int (*_Nonnull callback)(const uint8_t *_Nonnull data, size_t size));

#endif
