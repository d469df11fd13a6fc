import Foundation
import KiraClient

/// Threads of the tests' own, as task executors, in two sets kept apart.
///
/// The parallel run starts every test at once on Swift's cooperative pool, which has one thread per
/// core (two here). A test that computes for seconds without suspending (parsing every flow, a
/// differential over thousands of conditions, a whole walkthrough) holds a thread that long, and a
/// job that is due in the meantime waits in the queue behind every such test: a 500 ms probe then
/// measured 12 s, and a webhook missed its 5 s window, because the *test runner* was busy, not the
/// code under test.
/// - `timing` runs the tests whose expectations are about time (a probe's timeout, a retry's
///   backoff, a webhook within seconds) and the emulators they talk to. Nothing that computes for
///   long runs there, so a job that is due runs when it is due.
/// - `computing` runs the tests that compute for a second or more, and the in-process walkthroughs,
///   so that they hold neither the pool nor the timing threads. The kernel shares the cores
///   between all of them.
/// Nothing here is faster than the product: it is only not queued behind other tests.
package final class TestThreads: TaskExecutor, @unchecked Sendable {
    /// For time-bound tests and their emulators.
    package static let timing = TestThreads(count: 8, name: "timing")
    /// For tests and walkthroughs that compute; more threads than cores, as some also wait.
    package static let computing = TestThreads(count: 16, name: "computing")

    // `jobs` and `next` are guarded by `lock`; `ready` counts the jobs not yet taken. (Not a
    // condition variable: glibc's signal can block the enqueuing thread, a thread of the pool,
    // until the workers' side quiesces.)
    private let lock = NSLock()
    private let ready = DispatchSemaphore(value: 0)
    private var jobs: [UnownedJob] = []
    private var next = 0

    init(count: Int, name: String) {
        for number in 0..<count {
            let thread = Thread { [self] in work() }
            thread.name = "kira-\(name)-\(number)"
            thread.start()
        }
    }

    package func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        lock.lock()
        jobs.append(job)
        lock.unlock()
        ready.signal()
    }

    /// Runs jobs first in, first out, for the life of the process.
    private func work() {
        while true {
            ready.wait()
            lock.lock()
            let job = jobs[next]
            next += 1
            if next > 1024, next * 2 > jobs.count {
                jobs.removeFirst(next)
                next = 0
            }
            lock.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }

    /// Waits `duration` without the cooperative pool: `Task.sleep` wakes a task through the pool's
    /// queue even when the task prefers these threads (measured: a 100 ms sleep took 2.6 s while
    /// two tests computed), so time-bound code under test sleeps with this instead. A timer on a
    /// queue of its own resumes the task here; cancellation ends the wait at once, as
    /// `Task.sleep`'s does.
    package static func sleep(for duration: Duration) async throws {
        let wait = FirstResult<Void>()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                wait.start(continuation)
                let nanoseconds = max(0, duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
                timers.asyncAfter(deadline: .now() + .nanoseconds(Int(nanoseconds))) { wait.give(.success(())) }
            }
        } onCancel: {
            wait.give(.failure(CancellationError()))
        }
    }

    /// `sleep(for:)` as the function the emulator and the client take.
    package static let sleeper: @Sendable (Duration) async throws -> Void = { try await sleep(for: $0) }

    /// A serial queue of its own: it runs on libdispatch's overcommitting threads, not the pool's.
    private static let timers = DispatchQueue(label: "kira-test-timers")

    /// Runs `body`, and the tasks it starts, on the timing threads.
    package static func run<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        try await withTaskExecutorPreference(timing) { try await body() }
    }

    /// Runs `body`, and the tasks it starts, on the computing threads.
    package static func compute<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        try await withTaskExecutorPreference(computing) { try await body() }
    }
}
