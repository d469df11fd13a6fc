import ArgumentParser

/// The emulator options `run` (for its embedded emulator) and `sandbox serve` share.
struct EmulatorOptions: ParsableArguments {
    @Option(help: "Seconds a new virtual account stays PENDING-ACT-ACCOUNT on the emulator (run: the embedded one).")
    var vaReadyAfter: Double = 8

    func validate() throws {
        guard vaReadyAfter >= 0, vaReadyAfter.isFinite else {
            throw ValidationError("--va-ready-after must be a non-negative number of seconds")
        }
    }
}
