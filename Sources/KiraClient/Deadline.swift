import AsyncHTTPClient
import Foundation
import NIOCore

/// A deadline kept by an event loop's timer, for work whose own cancellation may come late.
///
/// AsyncHTTPClient cancels a request past its deadline from an unstructured task of Swift's
/// concurrency pool, so its timeout is only as punctual as that pool: in a process whose pool is
/// busy, a 1 s timeout was measured at 8 s. `race` answers at the deadline whatever the work is
/// doing: the work runs in a task of its own (preferring `executor` when one is given), is
/// cancelled at the deadline, and is left to unwind on its own.
public enum Deadline {
    /// What `operation` returns or throws, or `HTTPClientError.deadlineExceeded` once `timeout`
    /// has passed on `eventLoop`'s clock, whichever comes first.
    public static func race<T: Sendable>(
        _ timeout: Duration, on eventLoop: any EventLoop, executor: (any TaskExecutor)? = nil,
        _ operation: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let first = FirstResult<T>()
        let work = Task(executorPreference: executor) {
            do { first.give(.success(try await operation())) } catch { first.give(.failure(error)) }
        }
        let timer = eventLoop.scheduleTask(in: .nanoseconds(timeout.nanoseconds)) {
            first.give(.failure(HTTPClientError.deadlineExceeded))
            work.cancel()
        }
        return try await withTaskCancellationHandler {
            let result = try await withCheckedThrowingContinuation { continuation in first.start(continuation) }
            timer.cancel()
            return result
        } onCancel: {
            first.give(.failure(CancellationError()))
            work.cancel()
        }
    }
}

/// The first of several outcomes: resumes its waiter once, with whichever came first. Also the
/// test threads' timer wait (`TestThreads.sleep`).
package final class FirstResult<T: Sendable>: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var waiter: CheckedContinuation<T, any Error>?
    private var outcome: Result<T, any Error>?

    package init() {}

    package func start(_ continuation: CheckedContinuation<T, any Error>) {
        lock.lock()
        if let outcome {
            lock.unlock()
            continuation.resume(with: outcome)
            return
        }
        waiter = continuation
        lock.unlock()
    }

    package func give(_ value: Result<T, any Error>) {
        lock.lock()
        guard outcome == nil else {
            lock.unlock()
            return
        }
        outcome = value
        let waiting = waiter
        waiter = nil
        lock.unlock()
        waiting?.resume(with: value)
    }
}
