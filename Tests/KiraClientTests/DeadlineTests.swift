import AsyncHTTPClient
import Foundation
import KiraTestSupport
import NIOPosix
import Testing

@testable import KiraClient

/// `Deadline.race`: the answer is due at the deadline, whatever the work is doing.
@Suite struct DeadlineTests {
    @Test func workThatIgnoresCancellationDoesNotHoldTheAnswer() async throws {
        // On the timing threads: the caller resumes there when the timer fires, not behind the
        // other tests in the pool's queue (see TestThreads).
        try await TestThreads.run { try await Self.raceAgainstWorkThatIgnoresCancellation() }
    }

    static func raceAgainstWorkThatIgnoresCancellation() async throws {
        let eventLoop = MultiThreadedEventLoopGroup.singleton.any()
        let started = ContinuousClock.now
        // Work that ignores cancellation and ends only after 5 s, on a thread of its own.
        await #expect(throws: HTTPClientError.deadlineExceeded) {
            _ = try await Deadline.race(.milliseconds(200), on: eventLoop) {
                await withCheckedContinuation { (continuation: CheckedContinuation<Int, Never>) in
                    Thread.detachNewThread {
                        Thread.sleep(forTimeInterval: 5)
                        continuation.resume(returning: 1)
                    }
                }
            }
        }
        let elapsed = ContinuousClock.now - started
        #expect(elapsed >= .milliseconds(190))
        // Due at 200 ms; the margin is for a loaded machine, far below the work's 5 s.
        #expect(elapsed < .seconds(3), "answered after \(elapsed)")
    }

    @Test func workThatFinishesInTimeGivesItsAnswerOrItsError() async throws {
        let eventLoop = MultiThreadedEventLoopGroup.singleton.any()
        let answer = try await Deadline.race(.seconds(10), on: eventLoop) { 42 }
        #expect(answer == 42)
        struct Refused: Error {}
        await #expect(throws: Refused.self) {
            _ = try await Deadline.race(.seconds(10), on: eventLoop) { () async throws -> Int in throw Refused() }
        }
    }
}
