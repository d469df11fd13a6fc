import Hummingbird
import Logging
import ServiceLifecycle

/// Runs an application in a service group that can be shut down gracefully from outside.
actor ServiceGroupHandle {
    private var group: ServiceGroup?

    func run(_ service: some Service, logger: Logger) async throws {
        let group = ServiceGroup(services: [service], gracefulShutdownSignals: [], logger: logger)
        self.group = group
        try await group.run()
    }

    func stop() async {
        await group?.triggerGracefulShutdown()
    }
}
