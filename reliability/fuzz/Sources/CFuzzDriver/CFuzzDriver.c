// Header-only: LLVMFuzzerRunDriver is defined by libFuzzer. SwiftPM wants one source file.
#include "CFuzzDriver.h"
